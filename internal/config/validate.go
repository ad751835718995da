package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"sort"
	"strings"
)

// Validate checks values that decoding alone cannot: enums, URLs, addresses and
// required combinations. Problems are joined so one run shows them all.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	oneOf := func(key, value string, allowed ...string) {
		for _, a := range allowed {
			if value == a {
				return
			}
		}
		bad(key, "%q is not one of %s", value, strings.Join(allowed, ", "))
	}

	oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf("log.format", c.Log.Format, "json", "console")
	c.validateStore(bad)
	if f := c.TLS.SessionTicketKeysFile; f != "" {
		if _, err := ReadSessionTicketKeys(f); err != nil {
			bad("tls.session_ticket_keys_file", "%v", err)
		}
	}

	if len(c.Listeners) == 0 {
		bad("listeners", "at least one listener is required")
	}
	for i, l := range c.Listeners {
		key := fmt.Sprintf("listeners[%d]", i)
		checkAddress(bad, key+".address", l.Address)
		oneOf(key+".mode", l.Mode, "starttls", "direct", "websocket")
		validateWebSocket(bad, key, l)
		if l.ProxyProtocol && len(l.TrustedProxies) == 0 {
			bad(key+".trusted_proxies", "required with proxy_protocol: the load balancers' addresses")
		}
		if _, err := ParsePrefixes(l.TrustedProxies); err != nil {
			bad(key+".trusted_proxies", "%v", err)
		}
	}
	if len(c.TLS.Certificates) == 0 {
		bad("tls.certificates", "at least one certificate is required")
	}
	for i, cert := range c.TLS.Certificates {
		key := fmt.Sprintf("tls.certificates[%d]", i)
		if cert.CertFile == "" {
			bad(key+".cert_file", "required")
		}
		if cert.KeyFile == "" {
			bad(key+".key_file", "required")
		}
	}

	if len(c.Domains) == 0 {
		bad("domains", "at least one domain is required")
	}
	seen := map[string]bool{}
	for i, d := range c.Domains {
		key := fmt.Sprintf("domains[%d]", i)
		if d.Name == "" {
			bad(key+".name", "required")
		} else if seen[strings.ToLower(d.Name)] {
			bad(key+".name", "%q is configured twice", d.Name)
		}
		seen[strings.ToLower(d.Name)] = true
		c.validateUpstream(bad, key+".upstream", d.Upstream)
	}

	c.validateOAuth(bad)

	if c.Limits.PreAuthTimeout <= 0 {
		bad("limits.pre_auth_timeout", "must be positive")
	}
	if c.Limits.MaxElementBytes < 4096 {
		bad("limits.max_element_bytes", "must be at least 4096")
	}
	if c.Limits.MaxAuthAttempts < 1 {
		bad("limits.max_auth_attempts", "must be at least 1")
	}
	if c.Limits.MaxConnections < 1 {
		bad("limits.max_connections", "must be at least 1")
	}
	if c.Limits.ConnectionRatePerIP <= 0 || c.Limits.ConnectionBurstPerIP < 1 {
		bad("limits.connection_rate_per_ip", "rate must be positive and connection_burst_per_ip at least 1")
	}
	if c.Limits.FreeFailedLogins < 1 || c.Limits.FailedLoginDelay <= 0 || c.Limits.FailedLoginMaxDelay < c.Limits.FailedLoginDelay {
		bad("limits.failed_login_delay", "free_failed_logins >= 1, failed_login_delay > 0 and failed_login_max_delay >= failed_login_delay")
	}
	c.validateClientLimits(bad)
	if c.Metrics.Address != "" {
		checkAddress(bad, "metrics.address", c.Metrics.Address)
	}
	c.validatePortal(bad)
	return errors.Join(errs...)
}

func (c *Config) validateUpstream(bad func(string, string, ...any), key string, u Upstream) {
	checkAddress(bad, key+".address", u.Address)
	switch u.TLS {
	case "starttls", "direct":
	case "none":
		host, _, _ := net.SplitHostPort(u.Address)
		if !u.AllowPlaintext && !isLoopbackHost(host) {
			bad(key+".tls", "none is only allowed to a loopback address unless allow_plaintext is true")
		}
	default:
		bad(key+".tls", "%q is not one of starttls, direct, none", u.TLS)
	}
	for i, r := range u.ReservedUsernames {
		if strings.TrimSpace(r) == "" {
			bad(fmt.Sprintf("%s.reserved_usernames[%d]", key, i), "is empty")
		}
	}
	switch u.Credentials {
	case "managed":
		if u.SecretKey == "" {
			bad(key+".secret_key", "required for managed credentials (or secret_key_file)")
		} else if err := checkSecretKey(u.SecretKey); err != nil {
			bad(key+".secret_key", "%v", err)
		}
		if u.AdminJID == "" {
			bad(key+".admin_jid", "required for managed credentials")
		}
		if u.AdminPassword == "" {
			bad(key+".admin_password", "required for managed credentials (or admin_password_file)")
		}
	case "passthrough":
		if !c.OAuth.ResourceOwnerPassword {
			bad(key+".credentials", "passthrough needs oauth.resource_owner_password (PLAIN logins)")
		}
	case "token":
	default:
		bad(key+".credentials", "%q is not one of managed, passthrough, token", u.Credentials)
	}
}

// urls are the configured IdP URLs by key.
func (o OAuth) urls() map[string]string {
	return map[string]string{
		"oauth.issuer":                 o.Issuer,
		"oauth.discovery_url":          o.DiscoveryURL,
		"oauth.token_endpoint":         o.TokenEndpoint,
		"oauth.validation_endpoint":    o.ValidationEndpoint,
		"oauth.introspection_endpoint": o.IntrospectionEndpoint,
		"oauth.jwks_url":               o.JWKSURL,
	}
}

// InsecureHTTPURLs are the configured http:// IdP URLs on hosts other than
// loopback, by which tokens and the client secret would cross the network in
// clear text; only allow_insecure_http lets them pass (with a warning).
func (o OAuth) InsecureHTTPURLs() []string {
	var out []string
	for _, value := range o.urls() {
		if insecureHTTP(value) {
			u, _ := url.Parse(value)
			out = append(out, u.Redacted())
		}
	}
	sort.Strings(out)
	return out
}

func (c *Config) validateOAuth(bad func(string, string, ...any)) {
	o := c.OAuth
	for key, value := range o.urls() {
		if value != "" {
			checkURL(bad, key, value)
		}
		if insecureHTTP(value) && !o.AllowInsecureHTTP {
			bad(key, "http to a host other than loopback sends tokens and the client secret in clear text: use https (or allow_insecure_http: true)")
		}
	}
	for _, r := range o.UsernameRealms {
		if r == "" || strings.ContainsAny(r, "@ \t") {
			bad("oauth.username_realms", "%q is not a realm (the part after @)", r)
		}
	}
	if o.Issuer == "" && o.DiscoveryURL == "" && o.TokenEndpoint == "" && o.ValidationEndpoint == "" &&
		o.IntrospectionEndpoint == "" && o.JWKSURL == "" {
		bad("oauth", "set issuer or discovery_url, or at least one of token_endpoint and validation_endpoint")
	}
	if o.ResourceOwnerPassword && o.ClientID == "" {
		bad("oauth.client_id", "required for the password grant (resource_owner_password: true)")
	}
	oneOf := []string{"auto", "userinfo", "introspection", "jwt"}
	found := false
	for _, v := range oneOf {
		found = found || v == o.Validation
	}
	if !found {
		bad("oauth.validation", "%q is not one of %s", o.Validation, strings.Join(oneOf, ", "))
	}
	switch o.UsernameMapping {
	case "", "split":
	default:
		bad("oauth.username_mapping", "%q is not one of \"\", split", o.UsernameMapping)
	}
	switch o.TokenEndpointAuthMethod {
	case "", "client_secret_basic", "client_secret_post":
	default:
		bad("oauth.token_endpoint_auth_method", "%q is not one of client_secret_basic, client_secret_post", o.TokenEndpointAuthMethod)
	}
	if o.UsernameField == "" {
		bad("oauth.username_field", "must not be empty")
	}
	if o.Timeout <= 0 {
		bad("oauth.timeout", "must be positive")
	}
	if o.CacheSize < 0 {
		bad("oauth.cache_size", "must not be negative")
	}
}

func checkURL(bad func(string, string, ...any), key, value string) {
	u, err := url.Parse(value)
	switch {
	case err != nil:
		bad(key, "not a URL: %v", errors.Unwrap(err))
	case u.Scheme != "https" && u.Scheme != "http":
		bad(key, "%q: scheme must be https (or http)", value)
	case u.Host == "":
		bad(key, "%q: no host", value)
	case u.User != nil:
		bad(key, "credentials in the URL are not allowed: use client_id/client_secret")
	}
}

func checkAddress(bad func(string, string, ...any), key, value string) {
	if value == "" {
		bad(key, "required")
		return
	}
	if _, port, err := net.SplitHostPort(value); err != nil || port == "" {
		bad(key, "%q is not host:port", value)
	}
}

// ParsePrefixes reads CIDRs; a bare address means just that address.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR nor an address", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// validateClientLimits checks the pre-auth, per-client and relay limits.
func (c *Config) validateClientLimits(bad func(string, string, ...any)) {
	l := c.Limits
	if l.MaxPreAuthConnections < 1 {
		bad("limits.max_pre_auth_connections", "must be at least 1")
	}
	if l.MaxPreAuthPerIP < 1 {
		bad("limits.max_pre_auth_per_ip", "must be at least 1")
	}
	if l.MaxConcurrentPasswordGrants < 1 {
		bad("limits.max_concurrent_password_grants", "must be at least 1")
	}
	if l.IPv6PrefixBits < 32 || l.IPv6PrefixBits > 128 {
		bad("limits.ipv6_prefix_bits", "must be from 32 to 128")
	}
	if l.RelayWriteTimeout <= 0 {
		bad("limits.relay_write_timeout", "must be positive")
	}
}

// isLoopbackHost: localhost or a loopback address.
func isLoopbackHost(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// insecureHTTP: an http:// URL to a host other than loopback.
func insecureHTTP(value string) bool {
	u, err := url.Parse(value)
	return err == nil && u.Scheme == "http" && !isLoopbackHost(u.Hostname())
}
