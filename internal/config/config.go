package config

import "time"

// Config is the whole file. Field tags are the YAML keys; defaults live in Default.
type Config struct {
	Log       Log        `mapstructure:"log"`
	Listeners []Listener `mapstructure:"listeners"`
	TLS       TLS        `mapstructure:"tls"`
	Domains   []Domain   `mapstructure:"domains"`
	OAuth     OAuth      `mapstructure:"oauth"`
	Limits    Limits     `mapstructure:"limits"`
	Metrics   Metrics    `mapstructure:"metrics"`
	// Store and AppPasswords: the credential layer bound to the IdP.
	Store        Store        `mapstructure:"store"`
	AppPasswords AppPasswords `mapstructure:"app_passwords"`
	Sessions     Sessions     `mapstructure:"sessions"`
	Portal       Portal       `mapstructure:"portal"`
}

// Log chooses verbosity and format.
type Log struct {
	Level  string `mapstructure:"level"`  // debug | info | warn | error
	Format string `mapstructure:"format"` // json | console
}

// Listener is one client-facing socket.
type Listener struct {
	Address string `mapstructure:"address"`
	Mode    string `mapstructure:"mode"` // starttls | direct | websocket
	// ProxyProtocol: clients arrive through a load balancer that sends a PROXY v1/v2
	// header; only TrustedProxies (CIDRs or addresses) may connect. For a
	// websocket listener without it, TrustedProxies are the reverse proxies whose
	// Forwarded / X-Forwarded-For headers name the client.
	ProxyProtocol  bool     `mapstructure:"proxy_protocol"`
	TrustedProxies []string `mapstructure:"trusted_proxies"`
	WebSocket      `mapstructure:",squash"`
}

// WebSocket holds the keys of a websocket listener (RFC 7395); zero values
// mean the proxy's defaults.
type WebSocket struct {
	Path           string        `mapstructure:"path"`       // default /xmpp-websocket
	PlainHTTP      bool          `mapstructure:"plain_http"` // behind a TLS reverse proxy
	AllowedOrigins []string      `mapstructure:"allowed_origins"`
	MaxStanzaBytes int           `mapstructure:"max_stanza_bytes"`
	PingInterval   time.Duration `mapstructure:"ping_interval"`
}

// TLS holds the proxy's own certificates; the one presented is chosen by SNI or by
// the stream's 'to' domain.
type TLS struct {
	Certificates []Certificate `mapstructure:"certificates"`
	// SessionTicketKeysFile shares TLS session-ticket keys between replicas and
	// restarts, so clients resume their TLS sessions anywhere; empty: keys made
	// and rotated by each process (resumption works within one process).
	SessionTicketKeysFile string `mapstructure:"session_ticket_keys_file"`
}

// Certificate is a PEM certificate chain and its key.
type Certificate struct {
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
}

// Domain is one XMPP domain the proxy answers for and the server behind it.
type Domain struct {
	Name     string   `mapstructure:"name"`
	Upstream Upstream `mapstructure:"upstream"`
}

// Upstream is how the proxy reaches and logs in to the unchanged XMPP server.
type Upstream struct {
	Address        string `mapstructure:"address"`
	TLS            string `mapstructure:"tls"` // starttls | direct | none
	AllowPlaintext bool   `mapstructure:"allow_plaintext"`
	// SendProxyProtocol starts upstream connections with a PROXY v2 header naming
	// the user's address (Prosody's mod_net_proxy).
	SendProxyProtocol bool   `mapstructure:"send_proxy_protocol"`
	ServerName        string `mapstructure:"server_name"`
	CAFile            string `mapstructure:"ca_file"`
	// Credentials: managed | passthrough | token.
	Credentials       string `mapstructure:"credentials"`
	SecretKey         string `mapstructure:"secret_key"`
	SecretKeyFile     string `mapstructure:"secret_key_file"`
	AdminJID          string `mapstructure:"admin_jid"`
	AdminPassword     string `mapstructure:"admin_password"`
	AdminPasswordFile string `mapstructure:"admin_password_file"`
	CreateAccounts    bool   `mapstructure:"create_accounts"`
	// TakeOverExisting lets managed credentials replace the password of an
	// upstream account that predates SSO: the migration switch, off by default.
	TakeOverExisting bool `mapstructure:"take_over_existing"`
	// ReservedUsernames are never logged in as nor provisioned; nil: defaults.
	ReservedUsernames []string      `mapstructure:"reserved_usernames"`
	DialTimeout       time.Duration `mapstructure:"dial_timeout"`
	LoginTimeout      time.Duration `mapstructure:"login_timeout"`
	// Preconnect opens the upstream connection while the client authenticates;
	// nil: on.
	Preconnect *bool `mapstructure:"preconnect"`
}

// OAuth names follow Prosody's mod_auth_oauth_external (oauth_external_*).
type OAuth struct {
	Issuer                  string        `mapstructure:"issuer"`
	DiscoveryURL            string        `mapstructure:"discovery_url"`
	TokenEndpoint           string        `mapstructure:"token_endpoint"`
	ValidationEndpoint      string        `mapstructure:"validation_endpoint"`
	IntrospectionEndpoint   string        `mapstructure:"introspection_endpoint"`
	JWKSURL                 string        `mapstructure:"jwks_url"`
	UsernameField           string        `mapstructure:"username_field"`
	UsernameMapping         string        `mapstructure:"username_mapping"`
	ResourceOwnerPassword   bool          `mapstructure:"resource_owner_password"`
	ClientID                string        `mapstructure:"client_id"`
	ClientSecret            string        `mapstructure:"client_secret"`
	ClientSecretFile        string        `mapstructure:"client_secret_file"`
	Scope                   string        `mapstructure:"scope"`
	Validation              string        `mapstructure:"validation"` // auto | userinfo | introspection | jwt
	Audience                string        `mapstructure:"audience"`
	TokenEndpointAuthMethod string        `mapstructure:"token_endpoint_auth_method"`
	Timeout                 time.Duration `mapstructure:"timeout"`
	CAFile                  string        `mapstructure:"ca_file"`
	InsecureSkipVerify      bool          `mapstructure:"insecure_skip_verify"`
	CacheTTL                time.Duration `mapstructure:"cache_ttl"`
	NegativeCacheTTL        time.Duration `mapstructure:"negative_cache_ttl"`
	CacheSize               int           `mapstructure:"cache_size"`

	// UsernameRealms: the realms split may drop; empty: each domain its own name.
	UsernameRealms []string `mapstructure:"username_realms"`
	// AllowInsecureHTTP permits http:// IdP URLs on hosts other than loopback.
	AllowInsecureHTTP bool `mapstructure:"allow_insecure_http"`
}

// Limits bound what one client, and all of them, may cost.
type Limits struct {
	PreAuthTimeout  time.Duration `mapstructure:"pre_auth_timeout"`
	MaxElementBytes int           `mapstructure:"max_element_bytes"`
	MaxAuthAttempts int           `mapstructure:"max_auth_attempts"`
	MaxConnections  int           `mapstructure:"max_connections"`
	ShutdownDrain   time.Duration `mapstructure:"shutdown_drain"`
	// New connections per client IP: a token bucket (rate per second, burst).
	ConnectionRatePerIP  float64 `mapstructure:"connection_rate_per_ip"`
	ConnectionBurstPerIP int     `mapstructure:"connection_burst_per_ip"`
	// Failed logins per IP and per username before growing delays start.
	FreeFailedLogins    int           `mapstructure:"free_failed_logins"`
	FailedLoginDelay    time.Duration `mapstructure:"failed_login_delay"`
	FailedLoginMaxDelay time.Duration `mapstructure:"failed_login_max_delay"`
	// Connections before <success/>: overall and per client IP (IPv6: per prefix).
	MaxPreAuthConnections int `mapstructure:"max_pre_auth_connections"`
	MaxPreAuthPerIP       int `mapstructure:"max_pre_auth_per_ip"`
	// Password grants at the IdP at once, over all clients.
	MaxConcurrentPasswordGrants int `mapstructure:"max_concurrent_password_grants"`
	// IPv6 addresses sharing this many leading bits count as one client IP.
	IPv6PrefixBits int `mapstructure:"ipv6_prefix_bits"`
	// RelayWriteTimeout ends a relayed session whose peer stops reading.
	RelayWriteTimeout time.Duration `mapstructure:"relay_write_timeout"`
}

// Metrics is the separate HTTP listener for /metrics, /healthz and /readyz.
type Metrics struct {
	Address string `mapstructure:"address"` // empty: off
}

// Default returns the values every key has when the file does not set it.
func Default() Config {
	return Config{
		Log:    Log{Level: "info", Format: "json"},
		Portal: defaultPortal(),
		OAuth: OAuth{
			UsernameField:         "preferred_username",
			ResourceOwnerPassword: true,
			Scope:                 "openid",
			Validation:            "auto",
			Timeout:               5 * time.Second,
			CacheTTL:              5 * time.Minute,
			NegativeCacheTTL:      10 * time.Second,
			CacheSize:             10000,
		},
		Store:        Store{Driver: "sqlite"},
		AppPasswords: AppPasswords{Recheck: 15 * time.Minute, Grace: time.Hour, FASTTokenLifetime: 30 * 24 * time.Hour, SCRAM: "auto"},
		Sessions:     Sessions{Recheck: 15 * time.Minute},
		Limits: Limits{
			PreAuthTimeout:  30 * time.Second,
			MaxElementBytes: 64 << 10,
			MaxAuthAttempts: 3,
			MaxConnections:  10000,
			ShutdownDrain:   10 * time.Second,

			ConnectionRatePerIP:  10,
			ConnectionBurstPerIP: 30,
			FreeFailedLogins:     5,
			FailedLoginDelay:     time.Second,
			FailedLoginMaxDelay:  5 * time.Minute,

			MaxPreAuthConnections:       1000,
			MaxPreAuthPerIP:             32,
			MaxConcurrentPasswordGrants: 100,
			IPv6PrefixBits:              64,
			RelayWriteTimeout:           30 * time.Second,
		},
	}
}

// DefaultUpstream fills the zero fields of one domain's upstream.
func DefaultUpstream(u Upstream) Upstream {
	if u.TLS == "" {
		u.TLS = "starttls"
	}
	if u.Credentials == "" {
		u.Credentials = "managed"
	}
	if u.DialTimeout == 0 {
		u.DialTimeout = 5 * time.Second
	}
	if u.LoginTimeout == 0 {
		u.LoginTimeout = 10 * time.Second
	}
	if u.Preconnect == nil {
		on := true
		u.Preconnect = &on
	}
	return u
}
