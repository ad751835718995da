package upstream

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// TLS modes for Config.TLSMode.
const (
	TLSStartTLS = "starttls" // RFC 6120 STARTTLS on the c2s port (default)
	TLSDirect   = "direct"   // XEP-0368 Direct TLS, ALPN xmpp-client
	TLSNone     = "none"     // plain TCP: loopback or AllowPlaintext only
)

// Credential strategies for Config.Credentials.
const (
	CredManaged     = "managed"     // per-user secret derived from SecretKey, set through XEP-0133
	CredPassthrough = "passthrough" // the user's own username and password
	CredToken       = "token"       // SASL OAUTHBEARER with the user's access token
)

// Config describes the upstream server and how to log in to it.
type Config struct {
	Domain         string // XMPP domain: stream 'to', bare JIDs user@Domain
	Address        string // host:port
	TLSMode        string // "starttls" (default) | "direct" | "none"
	AllowPlaintext bool   // allow TLSMode "none" to a non-loopback address
	// SendProxyHeader starts every upstream connection with a PROXY v2 header
	// naming the user's address (see WithClientAddr), for servers that log or
	// limit by it behind a PROXY-protocol port (Prosody's mod_net_proxy).
	SendProxyHeader bool
	ServerName      string         // TLS server name; default Domain
	RootCAs         *x509.CertPool // nil = system pool

	Credentials    string // "managed" (default) | "passthrough" | "token"
	SecretKey      []byte // managed: HMAC key for the per-user upstream password; never logged
	AdminJID       string // managed: upstream admin (XEP-0133, Prosody mod_admin_adhoc)
	AdminPassword  string // managed: the admin's password; never logged
	CreateAccounts bool   // managed: run add-user when the account is missing
	// TakeOverExisting (managed) lets the proxy replace the password of an
	// upstream account that exists but does not accept the managed secret: the
	// migration switch. Off, such an account is refused and keeps its password.
	TakeOverExisting bool
	// ReservedUsernames are localparts the proxy never logs in as nor provisions,
	// whatever the IdP says; nil means DefaultReservedUsernames. AdminJID's
	// localpart is always reserved.
	ReservedUsernames []string
	// OnProvision, when set, sees every account change (action: add-user,
	// change-user-password, take-over-refused; outcome: ok or error).
	OnProvision func(action, outcome string)

	// Preconnect lets the proxy open the upstream connection (dial, TLS, stream
	// header, features) while the client still authenticates (Dialer.Preconnect).
	Preconnect bool

	DialTimeout  time.Duration // default 5s
	LoginTimeout time.Duration // default 10s, the whole upstream login
	Logger       zerolog.Logger
}

// ErrConfig marks an invalid Config.
var ErrConfig = errors.New("upstream: invalid config")

// DefaultReservedUsernames are the conventional administrative and role accounts
// (RFC 2142 mailbox names among them) that no IdP user may become.
var DefaultReservedUsernames = []string{
	"admin", "administrator", "root", "postmaster", "hostmaster", "webmaster",
	"abuse", "security", "sysadmin", "operator",
}

func (c *Config) setDefaults() {
	if c.ReservedUsernames == nil {
		c.ReservedUsernames = DefaultReservedUsernames
	}
	c.Domain = strings.ToLower(c.Domain)
	if c.TLSMode == "" {
		c.TLSMode = TLSStartTLS
	}
	if c.Credentials == "" {
		c.Credentials = CredManaged
	}
	if c.ServerName == "" {
		c.ServerName = c.Domain
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 5 * time.Second
	}
	if c.LoginTimeout <= 0 {
		c.LoginTimeout = 10 * time.Second
	}
}

func (c *Config) validate() error {
	if c.Domain == "" {
		return fmt.Errorf("%w: domain is empty", ErrConfig)
	}
	host, _, err := net.SplitHostPort(c.Address)
	if err != nil {
		return fmt.Errorf("%w: address %q: %v", ErrConfig, c.Address, err)
	}
	switch c.TLSMode {
	case TLSStartTLS, TLSDirect:
	case TLSNone:
		if !c.AllowPlaintext && !isLoopback(host) {
			return fmt.Errorf("%w: tls mode none needs a loopback address or allow_plaintext", ErrConfig)
		}
	default:
		return fmt.Errorf("%w: unknown tls mode %q", ErrConfig, c.TLSMode)
	}
	switch c.Credentials {
	case CredManaged:
		if len(c.SecretKey) < 32 {
			return fmt.Errorf("%w: managed credentials need a secret key of at least 32 bytes", ErrConfig)
		}
		if c.AdminJID == "" || c.AdminPassword == "" {
			return fmt.Errorf("%w: managed credentials need an admin jid and password", ErrConfig)
		}
		if _, _, err := splitJID(c.AdminJID); err != nil {
			return fmt.Errorf("%w: admin jid: %v", ErrConfig, err)
		}
	case CredPassthrough, CredToken:
	default:
		return fmt.Errorf("%w: unknown credentials strategy %q", ErrConfig, c.Credentials)
	}
	for _, r := range c.ReservedUsernames {
		if r == "" {
			return fmt.Errorf("%w: empty reserved username", ErrConfig)
		}
	}
	return nil
}

// isLoopback reports whether host names the local machine: a loopback IP or "localhost".
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// String describes c without its secrets, so a logged Config leaks nothing.
func (c Config) String() string {
	return fmt.Sprintf("upstream{domain=%s address=%s tls=%s credentials=%s admin=%s create_accounts=%v take_over_existing=%v secret_key=%s admin_password=%s}",
		c.Domain, c.Address, c.TLSMode, c.Credentials, c.AdminJID, c.CreateAccounts, c.TakeOverExisting, redacted(len(c.SecretKey) > 0), redacted(c.AdminPassword != ""))
}

func redacted(set bool) string {
	if set {
		return "[redacted]"
	}
	return "[unset]"
}
