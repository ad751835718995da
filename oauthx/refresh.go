package oauthx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// ErrGrantRevoked: the authorization server refuses a refresh token for good
// (the user was deleted or disabled, the session or token revoked, a policy
// changed). Whatever hangs off that grant must stop working.
var ErrGrantRevoked = errors.New("oauthx: grant revoked")

// Refreshed is the answer to a refresh: the grant is still alive.
type Refreshed struct {
	// RefreshToken is the token to keep: a rotated one, or the one sent when
	// the server does not rotate. Never log it.
	RefreshToken string
	Expires      time.Time // of the new access token; zero if unknown
}

// Refresh asks whether the grant behind refreshToken is still alive, with the
// refresh_token grant (RFC 6749 section 6). Errors: ErrGrantRevoked (for good),
// ErrUnavailable (try later) or ErrMisconfigured.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (Refreshed, error) {
	r, err := c.refreshGrant(ctx, refreshToken)
	switch {
	case err == nil:
	case errors.Is(err, ErrGrantRevoked):
		c.log.Info().Err(err).Msg("grant refresh refused: the grant is revoked")
	case errors.Is(err, ErrMisconfigured):
		c.log.Error().Err(err).Msg("grant refresh failed: configuration does not match the authorization server")
	default:
		c.log.Warn().Err(err).Msg("grant refresh failed: authorization server unavailable")
	}
	return r, err
}

func (c *Client) refreshGrant(ctx context.Context, refreshToken string) (r Refreshed, err error) {
	if refreshToken == "" {
		return Refreshed{}, classed(ErrGrantRevoked, "no refresh token", nil)
	}
	ep := c.ep.Load()
	if !ep.loaded {
		return Refreshed{}, c.notReady()
	}
	if ep.token == "" {
		return Refreshed{}, classed(ErrMisconfigured, "no token endpoint", nil)
	}
	start := time.Now()
	defer func() { c.obs.Request("token", outcome(err), time.Since(start)) }()
	conf := c.tokenConfig(ep)
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.http)
	tok, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return Refreshed{}, c.refreshError(ctx, ep, err)
	}
	r = Refreshed{RefreshToken: tok.RefreshToken, Expires: tok.Expiry}
	if r.RefreshToken == "" {
		r.RefreshToken = refreshToken // RFC 6749 6: the server may keep the old one
	}
	return r, nil
}

// tokenConfig is the oauth2 client of the token endpoint.
func (c *Client) tokenConfig(ep *endpoints) *oauth2.Config {
	style := oauth2.AuthStyleInHeader
	if ep.tokenAuth == AuthPost {
		style = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{
		ClientID:     c.cfg.ClientID,
		ClientSecret: c.cfg.ClientSecret,
		Endpoint:     oauth2.Endpoint{TokenURL: ep.token, AuthStyle: style},
		Scopes:       strings.Fields(c.cfg.Scope),
	}
}

// refreshError classifies a failed refresh. invalid_grant is a revoked grant.
// A 4xx without an error code is ambiguous: Glewlwyd answers both a revoked
// refresh token and a wrong client secret with a bare 400. Disabling every app
// password because our own secret is wrong would be a disaster, so the client's
// authentication is checked first (introspecting a random token must answer
// "not active", not 401): only if it works is the grant taken as revoked.
func (c *Client) refreshError(ctx context.Context, ep *endpoints, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
		return classed(ErrGrantRevoked, "token endpoint: invalid_grant", nil)
	}
	if !errors.As(err, &re) || re.ErrorCode != "" || re.Response == nil ||
		re.Response.StatusCode < 400 || re.Response.StatusCode >= 500 || re.Response.StatusCode == 429 {
		return grantError(err) // transport, 5xx, or a code that names our configuration
	}
	if ep.introspection == "" {
		return classed(ErrMisconfigured, "token endpoint refused the refresh without an error code, and no introspection endpoint can tell a revoked grant from a wrong client secret", nil)
	}
	var probe [16]byte
	_, _ = rand.Read(probe[:])
	_, perr := c.viaIntrospection(ctx, ep, "probe-"+hex.EncodeToString(probe[:]))
	switch {
	case errors.Is(perr, ErrInvalidToken):
		return classed(ErrGrantRevoked, "token endpoint refused the refresh (client authentication works)", nil)
	case errors.Is(perr, ErrMisconfigured):
		return classed(ErrMisconfigured, "token endpoint refused the refresh and the client cannot authenticate", perr)
	}
	return classed(ErrUnavailable, "token endpoint refused the refresh; client authentication could not be checked", perr)
}
