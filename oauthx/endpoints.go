package oauthx

import (
	"net"
	"net/url"
	"slices"
)

// endpoints are the URLs in use: configured values over discovered ones.
type endpoints struct {
	issuer, token, userinfo, introspection, jwks string
	// authorization is only ever discovered (the portal's code flow).
	authorization string
	// offlineAccess: the server lists the offline_access scope, whose refresh
	// tokens outlive the browser session (Keycloak, Authentik, Zitadel).
	offlineAccess bool
	// tokenAuth and introspectionAuth are AuthBasic or AuthPost.
	tokenAuth, introspectionAuth string
	// discoveryURL is the metadata document that answered ("" if none).
	discoveryURL string
	// loaded: the metadata is in (or no discovery is configured).
	loaded bool
}

// configuredEndpoints is what the configuration alone says.
func configuredEndpoints(cfg Config) *endpoints {
	auth := cfg.TokenEndpointAuthMethod
	if auth == "" {
		auth = AuthBasic
	}
	return &endpoints{
		issuer:            cfg.Issuer,
		token:             cfg.TokenEndpoint,
		userinfo:          cfg.UserinfoEndpoint,
		introspection:     cfg.IntrospectionEndpoint,
		jwks:              cfg.JWKSURL,
		tokenAuth:         auth,
		introspectionAuth: auth,
		discoveryURL:      cfg.DiscoveryURL,
		loaded:            cfg.Issuer == "" && cfg.DiscoveryURL == "",
	}
}

// merge lays discovered metadata under the configured values.
func merge(cfg Config, md *metadata, from string) *endpoints {
	e := configuredEndpoints(cfg)
	pick := func(configured *string, discovered string) {
		if *configured == "" {
			*configured = discovered
		}
	}
	pick(&e.issuer, md.Issuer)
	pick(&e.token, md.TokenEndpoint)
	pick(&e.userinfo, md.UserinfoEndpoint)
	pick(&e.introspection, md.IntrospectionEndpoint)
	pick(&e.jwks, md.JWKSURI)
	e.authorization = md.AuthorizationEndpoint
	e.offlineAccess = slices.Contains(md.ScopesSupported, "offline_access")
	if cfg.TokenEndpointAuthMethod == "" {
		e.tokenAuth = chooseAuth(md.TokenEndpointAuthMethods)
		e.introspectionAuth = e.tokenAuth
		if len(md.IntrospectionEndpointAuthMethods) > 0 {
			e.introspectionAuth = chooseAuth(md.IntrospectionEndpointAuthMethods)
		}
	}
	e.discoveryURL = from
	e.loaded = true
	return e
}

// chooseAuth prefers client_secret_basic (the RFC 6749 default when nothing is
// advertised) and takes client_secret_post when only that is offered.
func chooseAuth(supported []string) string {
	if len(supported) > 0 && !slices.Contains(supported, AuthBasic) && slices.Contains(supported, AuthPost) {
		return AuthPost
	}
	return AuthBasic
}

// Endpoint is a named URL in use, for diagnostics (checkconfig).
type Endpoint struct{ Name, URL string }

// Endpoints lists the URLs in use now: configured ones, and discovered ones
// once the metadata is loaded.
func (c *Client) Endpoints() []Endpoint {
	e := c.ep.Load()
	var out []Endpoint
	for _, x := range []Endpoint{
		{"issuer", e.issuer}, {"discovery", e.discoveryURL}, {"token", e.token}, {"userinfo", e.userinfo},
		{"introspection", e.introspection}, {"jwks", e.jwks},
	} {
		if x.URL != "" {
			out = append(out, x)
		}
	}
	return out
}

// plainHTTP: an http:// URL to a host other than loopback, where tokens and
// the client secret would cross the network in clear text.
func plainHTTP(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "http" {
		return false
	}
	ip := net.ParseIP(p.Hostname())
	return p.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback())
}

// plainHTTPDiscovered lists the discovered (not configured) endpoints in use
// that are plainHTTP; configured ones were refused or allowed by withDefaults.
func plainHTTPDiscovered(cfg Config, e *endpoints) []string {
	var out []string
	for _, x := range []struct{ configured, used string }{
		{cfg.TokenEndpoint, e.token}, {cfg.UserinfoEndpoint, e.userinfo},
		{cfg.IntrospectionEndpoint, e.introspection}, {cfg.JWKSURL, e.jwks},
	} {
		if x.configured == "" && plainHTTP(x.used) {
			u, _ := url.Parse(x.used)
			out = append(out, u.Redacted())
		}
	}
	return out
}
