package oauthx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// metadata is the part of an OpenID Provider Configuration or RFC 8414
// authorization server metadata document that oauthx uses.
type metadata struct {
	Issuer                           string   `json:"issuer"`
	AuthorizationEndpoint            string   `json:"authorization_endpoint"`
	TokenEndpoint                    string   `json:"token_endpoint"`
	UserinfoEndpoint                 string   `json:"userinfo_endpoint"`
	IntrospectionEndpoint            string   `json:"introspection_endpoint"`
	JWKSURI                          string   `json:"jwks_uri"`
	TokenEndpointAuthMethods         []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethods []string `json:"introspection_endpoint_auth_methods_supported"`
	ScopesSupported                  []string `json:"scopes_supported"`
}

// errNotFound: this candidate metadata URL does not exist; try the next one.
var errNotFound = errors.New("metadata document not found")

// discoveryCandidates lists the metadata URLs to try, in order. A configured
// discovery URL is the only one. From an issuer: OpenID Connect Discovery
// (appended), RFC 8414 section 3 (inserted after the host), and the appended
// RFC 8414 form that mod_auth_oauth_external uses.
func discoveryCandidates(cfg Config) []string {
	if cfg.DiscoveryURL != "" {
		return []string{cfg.DiscoveryURL}
	}
	if cfg.Issuer == "" {
		return nil
	}
	out := []string{cfg.Issuer + "/.well-known/openid-configuration"}
	if u, err := url.Parse(cfg.Issuer); err == nil && u.Path != "" && u.Path != "/" {
		path := u.Path
		u.Path = "/.well-known/oauth-authorization-server" + path
		u.RawPath = ""
		out = append(out, u.String())
	}
	return append(out, cfg.Issuer+"/.well-known/oauth-authorization-server")
}

// discover fetches the metadata from the first candidate that exists and checks
// its issuer. It returns the document and the URL it came from.
func (c *Client) discover(ctx context.Context) (*metadata, string, error) {
	var lastErr error
	for _, u := range discoveryCandidates(c.cfg) {
		md, err := c.fetchMetadata(ctx, u)
		if errors.Is(err, errNotFound) {
			lastErr = err
			continue
		}
		if err != nil {
			return nil, "", err
		}
		if err := c.checkIssuer(md); err != nil {
			return nil, "", err
		}
		return md, u, nil
	}
	return nil, "", classed(ErrMisconfigured, "no metadata document at the issuer's well-known locations", lastErr)
}

// checkIssuer applies OpenID Connect Discovery 4.3 / RFC 8414 3.3: the document's
// issuer must be the configured one (a trailing slash aside).
func (c *Client) checkIssuer(md *metadata) error {
	got := strings.TrimSuffix(md.Issuer, "/")
	switch {
	case got == "":
		return classed(ErrMisconfigured, "metadata has no issuer", nil)
	case c.cfg.Issuer != "" && got != c.cfg.Issuer:
		return classed(ErrMisconfigured, fmt.Sprintf("metadata issuer %q is not the configured %q", md.Issuer, c.cfg.Issuer), nil)
	}
	return nil
}

func (c *Client) fetchMetadata(ctx context.Context, u string) (md *metadata, err error) {
	start := time.Now()
	defer func() {
		if !errors.Is(err, errNotFound) {
			c.obs.Request("discovery", outcome(err), time.Since(start))
		}
	}()
	status, body, err := c.getJSON(ctx, "discovery", u)
	switch {
	case err != nil:
		return nil, err
	case status == http.StatusNotFound:
		return nil, fmt.Errorf("%s: %w", u, errNotFound)
	case status != http.StatusOK:
		return nil, statusError("discovery", status)
	}
	md = new(metadata)
	if err := json.Unmarshal(body, md); err != nil {
		return nil, classed(ErrUnavailable, "discovery: answer is not JSON metadata", err)
	}
	return md, nil
}

// statusError classifies an unexpected HTTP status of a request that carried
// no user credentials: 5xx and 429 are the server's trouble, the rest ours.
func statusError(what string, status int) error {
	msg := fmt.Sprintf("%s: HTTP %d", what, status)
	if status >= 500 || status == http.StatusTooManyRequests {
		return classed(ErrUnavailable, msg, nil)
	}
	return classed(ErrMisconfigured, msg, nil)
}
