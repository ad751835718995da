package oauthx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
)

// PasswordLogin runs the resource owner password grant (SASL PLAIN). username
// is already normalised by the caller. With a validation method the token is
// validated (locally for a JWT with warm keys, else one more request) and the
// username comes from it; without one the typed username stands, as in
// mod_auth_oauth_external. Password grants are never cached.
func (c *Client) PasswordLogin(ctx context.Context, username, password string) (Identity, error) {
	id, err := c.passwordLogin(ctx, username, password)
	switch {
	case err == nil:
	case errors.Is(err, ErrMisconfigured):
		c.log.Error().Err(err).Msg("password login failed: configuration does not match the authorization server")
	case errors.Is(err, ErrUnavailable):
		c.log.Warn().Err(err).Msg("password login failed: authorization server unavailable")
	default:
		c.log.Info().Err(err).Msg("password login rejected")
	}
	return id, err
}

func (c *Client) passwordLogin(ctx context.Context, username, password string) (id Identity, err error) {
	var tok *oauth2.Token
	defer func() {
		if err == nil && tok != nil {
			id.RefreshToken = tok.RefreshToken
		}
	}()
	if !c.cfg.ResourceOwnerPassword {
		return Identity{}, classed(ErrMisconfigured, "the password grant is disabled", nil)
	}
	if username == "" || password == "" {
		return Identity{}, classed(ErrInvalidCredentials, "empty username or password", nil)
	}
	ep := c.ep.Load()
	if !ep.loaded {
		return Identity{}, c.notReady()
	}
	if ep.token == "" {
		return Identity{}, classed(ErrMisconfigured, "no token endpoint", nil)
	}
	tok, err = c.passwordGrant(ctx, ep, username, password)
	if err != nil {
		return Identity{}, err
	}
	if !c.CanValidate() {
		return Identity{Username: username, AccessToken: tok.AccessToken, Expires: tok.Expiry}, nil
	}
	if id, ok := c.fromIDToken(ctx, ep, tok); ok {
		return id, nil
	}
	id, err = c.validateCached(ctx, tok.AccessToken)
	switch {
	case err == nil:
		if id.Expires.IsZero() {
			id.Expires = tok.Expiry
		}
		return id, nil
	case errors.Is(err, errBadUsername):
		// The user exists at the server but cannot be an XMPP user.
		return Identity{}, classed(ErrInvalidCredentials, "the server's username for this user", err)
	case errors.Is(err, ErrInvalidToken):
		// A token the server has just issued fails our checks: audience,
		// issuer or keys are set up wrong, not the user's password.
		return Identity{}, classed(ErrMisconfigured, "the password grant's own token fails validation", err)
	}
	return Identity{}, err
}

// fromIDToken spares the second request of a PLAIN login in auto mode when the
// access token cannot name the user locally (opaque, or a JWT without the
// username field, as Glewlwyd's by default: either would need introspection or
// userinfo) but the grant also returned an ID token that verifies locally with
// warm keys and names the user. Any doubt returns false and the access token is
// validated.
func (c *Client) fromIDToken(ctx context.Context, ep *endpoints, tok *oauth2.Token) (Identity, bool) {
	idt, _ := tok.Extra("id_token").(string)
	if c.cfg.Validation != ValidationAuto || idt == "" || ep.jwks == "" || !c.keys.loaded(ep.jwks) ||
		c.namesUser(tok.AccessToken) || !tokenSyntaxOK(idt) {
		return Identity{}, false
	}
	cl, err := c.verifyIDToken(ctx, ep, idt)
	if err != nil {
		c.log.Debug().Err(err).Msg("ID token of the password grant not usable; validating the access token")
		return Identity{}, false
	}
	id, err := c.identityFromJWT(cl, tok.AccessToken)
	if err != nil {
		return Identity{}, false
	}
	id.Expires = tok.Expiry
	return id, true
}

// passwordGrant posts grant_type=password through golang.org/x/oauth2 and
// classifies its failures.
func (c *Client) passwordGrant(ctx context.Context, ep *endpoints, username, password string) (tok *oauth2.Token, err error) {
	start := time.Now()
	defer func() { c.obs.Request("token", outcome(err), time.Since(start)) }()
	conf := c.tokenConfig(ep)
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.http)
	tok, err = conf.PasswordCredentialsToken(ctx, username, password)
	if err != nil {
		return nil, grantError(err)
	}
	if !strings.EqualFold(tok.TokenType, "bearer") {
		return nil, classed(ErrMisconfigured, fmt.Sprintf("token endpoint: token_type %q is not bearer", truncate(tok.TokenType, 32)), nil)
	}
	return tok, nil
}

// grantError classifies a failed password grant. The OAuth error code decides
// when the server sends one (RFC 6749 5.2). Without one, the status does:
// Glewlwyd answers a wrong password with a bare 403 and a wrong client secret
// with a bare 400; RFC 6749 has 401 for failed client authentication.
// oauth2.RetrieveError's own text holds the whole body, so it is not used.
func grantError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		// Transport failures, or a 2xx without a usable token (garbage).
		var ue interface{ Timeout() bool }
		if errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return transportError("token endpoint", err)
		}
		return classed(ErrUnavailable, "token endpoint: unusable answer", errors.New(truncate(err.Error(), 200)))
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	what := fmt.Sprintf("token endpoint: HTTP %d", status)
	if re.ErrorCode != "" {
		what += " " + truncate(re.ErrorCode, 64)
	}
	switch re.ErrorCode {
	case "invalid_grant":
		return classed(ErrInvalidCredentials, what, nil)
	case "invalid_client", "unauthorized_client", "unsupported_grant_type", "invalid_scope", "invalid_request":
		return classed(ErrMisconfigured, what, nil)
	}
	switch {
	case status >= 500 || status == http.StatusTooManyRequests:
		return classed(ErrUnavailable, what, nil)
	case status == http.StatusForbidden:
		return classed(ErrInvalidCredentials, what, nil)
	case status >= 400 && status < 500:
		return classed(ErrMisconfigured, what, nil)
	}
	return classed(ErrUnavailable, what, nil)
}

// truncate bounds server-chosen text that goes into an error.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// namesUser reports whether token is a JWT whose (unverified) payload carries
// the username field: then the access token itself is validated locally. It
// only chooses a path; whichever is taken verifies what it uses.
func (c *Client) namesUser(token string) bool {
	if !looksLikeJWT(token) {
		return false
	}
	tok, err := jwt.ParseSigned(token, jwtAlgorithms)
	if err != nil {
		return false
	}
	var claims map[string]any
	if tok.UnsafeClaimsWithoutVerification(&claims) != nil {
		return false
	}
	_, ok := lookupField(claims, c.cfg.UsernameField)
	return ok
}
