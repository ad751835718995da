package oauthx

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Config says where the authorization server is and how to use it. Names follow
// Prosody's mod_auth_oauth_external where it has one. Zero values take the
// defaults documented on each field.
type Config struct {
	// Issuer is the server's issuer URL. With it (and no DiscoveryURL) the
	// metadata is looked up at issuer/.well-known/openid-configuration, then at
	// the RFC 8414 oauth-authorization-server locations. The discovered issuer
	// must equal it.
	Issuer string
	// DiscoveryURL is the metadata document to fetch instead of guessing.
	DiscoveryURL string
	// Endpoints set here win over discovered ones. UserinfoEndpoint is the
	// module's validation_endpoint.
	TokenEndpoint, UserinfoEndpoint, IntrospectionEndpoint, JWKSURL string

	ClientID, ClientSecret string
	// Scope asked for in the password grant. Default "openid".
	Scope string
	// TokenEndpointAuthMethod: "client_secret_basic" or "client_secret_post";
	// empty picks from the metadata's token_endpoint_auth_methods_supported
	// (basic when listed or when nothing is listed).
	TokenEndpointAuthMethod string

	// UsernameField names the claim that holds the localpart; dots reach into
	// nested objects ("user.name"). Default "preferred_username".
	UsernameField string
	// UsernameMapping: "" keeps the value, "split" keeps the part before the
	// first "@" of user@realm.
	UsernameMapping string
	// UsernameRealms are the realms "split" accepts (compared without case);
	// any other realm, or none, is refused, so alice@corp and alice@other
	// cannot become one account. Required with "split".
	UsernameRealms []string

	// ResourceOwnerPassword allows the password grant (SASL PLAIN).
	ResourceOwnerPassword bool
	// Validation of tokens: "auto" (default), "userinfo", "introspection" or
	// "jwt". See the package documentation.
	Validation string
	// Audience, when set, must be in the aud of a bearer token (JWT claims or
	// introspection answer). Empty: a token with an aud must name ClientID
	// there or have been issued to ClientID. See the package documentation.
	Audience string

	// Timeout bounds each HTTP request, connecting included. Default 5s.
	Timeout time.Duration
	// CAFile adds PEM certificates to the system roots, for private servers.
	CAFile string
	// InsecureSkipVerify turns certificate checks off; Start logs a warning.
	InsecureSkipVerify bool
	// AllowInsecureHTTP permits http:// URLs (configured or discovered) on
	// hosts other than loopback, which carry tokens and the client secret in
	// clear text; discovered ones are then logged as a warning.
	AllowInsecureHTTP bool

	// CacheTTL caps how long a validated token is trusted without asking again
	// (never past its expiry). Default 5m; negative: no cache.
	CacheTTL time.Duration
	// NegativeCacheTTL is how long a rejected token stays rejected. Default
	// 10s; negative: rejections are not cached.
	NegativeCacheTTL time.Duration
	// CacheSize bounds each cache (entries). Default 10000; negative: no cache.
	CacheSize int

	// RefreshInterval is how often metadata and keys are fetched again.
	// Default 1h.
	RefreshInterval time.Duration

	Logger zerolog.Logger
	// Observer receives metrics events; nil ignores them.
	Observer Observer
}

// Validation modes.
const (
	ValidationAuto          = "auto"
	ValidationUserinfo      = "userinfo"
	ValidationIntrospection = "introspection"
	ValidationJWT           = "jwt"
)

// Client authentication methods at the token and introspection endpoints.
const (
	AuthBasic = "client_secret_basic"
	AuthPost  = "client_secret_post"
)

const (
	defaultScope           = "openid"
	defaultUsernameField   = "preferred_username"
	defaultTimeout         = 5 * time.Second
	defaultCacheTTL        = 5 * time.Minute
	defaultNegativeTTL     = 10 * time.Second
	defaultCacheSize       = 10000
	defaultRefreshInterval = time.Hour
	maxUsernameFieldDepth  = 8
)

// withDefaults fills zero fields and checks the rest; errors wrap ErrMisconfigured.
func (c Config) withDefaults() (Config, error) {
	if c.Scope == "" {
		c.Scope = defaultScope
	}
	if c.UsernameField == "" {
		c.UsernameField = defaultUsernameField
	}
	if c.Validation == "" {
		c.Validation = ValidationAuto
	}
	if c.Timeout == 0 {
		c.Timeout = defaultTimeout
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = defaultCacheTTL
	}
	if c.NegativeCacheTTL == 0 {
		c.NegativeCacheTTL = defaultNegativeTTL
	}
	if c.CacheSize == 0 {
		c.CacheSize = defaultCacheSize
	}
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = defaultRefreshInterval
	}
	c.Issuer = strings.TrimSuffix(c.Issuer, "/")

	bad := func(format string, args ...any) (Config, error) {
		return c, fmt.Errorf("%w: %s", ErrMisconfigured, fmt.Sprintf(format, args...))
	}
	for _, u := range []struct{ name, value string }{
		{"issuer", c.Issuer}, {"discovery_url", c.DiscoveryURL}, {"token_endpoint", c.TokenEndpoint},
		{"userinfo endpoint", c.UserinfoEndpoint}, {"introspection_endpoint", c.IntrospectionEndpoint},
		{"jwks_url", c.JWKSURL},
	} {
		if u.value == "" {
			continue
		}
		p, err := url.Parse(u.value)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return bad("%s is not an http(s) URL", u.name)
		}
		if plainHTTP(u.value) && !c.AllowInsecureHTTP {
			return bad("%s is plain http to a host other than loopback (AllowInsecureHTTP)", u.name)
		}
	}
	if c.Issuer == "" && c.DiscoveryURL == "" && c.TokenEndpoint == "" && c.UserinfoEndpoint == "" &&
		c.IntrospectionEndpoint == "" && c.JWKSURL == "" {
		return bad("no issuer, discovery URL or endpoint")
	}
	switch c.Validation {
	case ValidationAuto, ValidationUserinfo, ValidationIntrospection, ValidationJWT:
	default:
		return bad("validation %q is not one of auto, userinfo, introspection, jwt", c.Validation)
	}
	switch c.TokenEndpointAuthMethod {
	case "", AuthBasic, AuthPost:
	default:
		return bad("token_endpoint_auth_method %q is not one of client_secret_basic, client_secret_post", c.TokenEndpointAuthMethod)
	}
	switch c.UsernameMapping {
	case "", "split":
	default:
		return bad("username_mapping %q is not one of \"\", split", c.UsernameMapping)
	}
	if c.UsernameMapping == "split" && len(c.UsernameRealms) == 0 {
		return bad("username_mapping split needs username_realms")
	}
	realms := make([]string, 0, len(c.UsernameRealms))
	for _, r := range c.UsernameRealms {
		realms = append(realms, normaliseRealm(r))
	}
	c.UsernameRealms = realms
	if parts := strings.Split(c.UsernameField, "."); len(parts) > maxUsernameFieldDepth || strings.Contains(c.UsernameField, "..") ||
		strings.HasPrefix(c.UsernameField, ".") || strings.HasSuffix(c.UsernameField, ".") {
		return bad("username_field %q is not a dotted path of at most %d names", c.UsernameField, maxUsernameFieldDepth)
	}
	if c.Timeout < 0 {
		return bad("timeout must be positive")
	}
	if c.ResourceOwnerPassword && c.ClientID == "" {
		return bad("the password grant needs a client_id")
	}
	if c.Validation == ValidationIntrospection && c.ClientID == "" {
		return bad("introspection needs a client_id")
	}
	// Endpoints that discovery cannot supply must be configured.
	discovers := c.Issuer != "" || c.DiscoveryURL != ""
	if !discovers {
		switch {
		case c.Validation == ValidationUserinfo && c.UserinfoEndpoint == "":
			return bad("userinfo validation needs a userinfo endpoint or an issuer")
		case c.Validation == ValidationIntrospection && c.IntrospectionEndpoint == "":
			return bad("introspection validation needs an introspection endpoint or an issuer")
		case c.Validation == ValidationJWT && (c.JWKSURL == ""):
			return bad("jwt validation needs a jwks_url or an issuer")
		}
	}
	if c.Validation == ValidationJWT && c.Issuer == "" && c.DiscoveryURL == "" {
		return bad("jwt validation needs the issuer to check tokens' iss")
	}
	return c, nil
}
