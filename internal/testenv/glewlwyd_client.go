package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// ErrRejected means Glewlwyd answered a client request with a 4xx status,
// e.g. a wrong password (403) or a wrong client secret (400).
var ErrRejected = errors.New("testenv: rejected by the identity provider")

// PasswordToken runs the password grant on the main plugin and returns the
// JWT access token.
func (g *Glewlwyd) PasswordToken(ctx context.Context, user, password string) (string, error) {
	return g.passwordToken(ctx, g.TokenURL, user, password)
}

// ShortPasswordToken is PasswordToken on the plugin whose tokens expire
// after ShortTokenLifetime.
func (g *Glewlwyd) ShortPasswordToken(ctx context.Context, user, password string) (string, error) {
	return g.passwordToken(ctx, g.ShortTokenURL, user, password)
}

// PasswordIDToken runs the password grant on the main plugin and returns the
// ID token that comes with the access token (scope openid): what a client
// must not be able to log in with as a bearer token.
func (g *Glewlwyd) PasswordIDToken(ctx context.Context, user, password string) (string, error) {
	t, err := g.passwordGrant(ctx, g.TokenURL, user, password)
	if err == nil && t.ID == "" {
		err = fmt.Errorf("password grant for %q: no id_token in the answer", user)
	}
	return t.ID, err
}

func (g *Glewlwyd) passwordToken(ctx context.Context, tokenURL, user, password string) (string, error) {
	t, err := g.passwordGrant(ctx, tokenURL, user, password)
	return t.Access, err
}

// Tokens are what a grant returned. Never log them.
type Tokens struct {
	Access, Refresh, ID string
}

// PasswordGrant runs the password grant on the main plugin and returns every
// token of the answer.
func (g *Glewlwyd) PasswordGrant(ctx context.Context, user, password string) (Tokens, error) {
	return g.passwordGrant(ctx, g.TokenURL, user, password)
}

func (g *Glewlwyd) passwordGrant(ctx context.Context, tokenURL, user, password string) (Tokens, error) {
	var out struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		IDToken      string `json:"id_token"`
	}
	err := g.clientPost(ctx, tokenURL, url.Values{
		"grant_type": {"password"}, "username": {user}, "password": {password}, "scope": {g.Scope},
	}, &out)
	if err != nil {
		return Tokens{}, fmt.Errorf("password grant for %q: %w", user, err)
	}
	if out.AccessToken == "" {
		return Tokens{}, fmt.Errorf("password grant for %q: no access_token in the answer", user)
	}
	return Tokens{Access: out.AccessToken, Refresh: out.RefreshToken, ID: out.IDToken}, nil
}

// Introspect asks the main plugin about token (RFC 7662) and returns the
// decoded answer, e.g. {"active": true, "username": "alice", ...}.
func (g *Glewlwyd) Introspect(ctx context.Context, token string) (map[string]any, error) {
	return g.introspect(ctx, g.IntrospectURL, token)
}

// ShortIntrospect is Introspect on the short-lived plugin.
func (g *Glewlwyd) ShortIntrospect(ctx context.Context, token string) (map[string]any, error) {
	return g.introspect(ctx, g.ShortIntrospectURL, token)
}

func (g *Glewlwyd) introspect(ctx context.Context, endpoint, token string) (map[string]any, error) {
	var out map[string]any
	if err := g.clientPost(ctx, endpoint, url.Values{"token": {token}}, &out); err != nil {
		return nil, fmt.Errorf("introspect: %w", err)
	}
	return out, nil
}

// Revoke revokes an access token on the main plugin (RFC 7009); afterwards
// introspection reports it inactive. A JWT stays valid for anyone checking
// only its signature and expiry.
func (g *Glewlwyd) Revoke(ctx context.Context, token string) error {
	return g.revoke(ctx, token, "access_token")
}

// RevokeRefresh revokes a refresh token (RFC 7009): the grant ends, as when an
// admin ends a user's session.
func (g *Glewlwyd) RevokeRefresh(ctx context.Context, token string) error {
	return g.revoke(ctx, token, "refresh_token")
}

func (g *Glewlwyd) revoke(ctx context.Context, token, hint string) error {
	err := g.clientPost(ctx, g.RevokeURL, url.Values{"token": {token}, "token_type_hint": {hint}}, nil)
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	return nil
}

// clientPost posts a form with the client's basic credentials and decodes
// a JSON answer into out (when non-nil).
func (g *Glewlwyd) clientPost(ctx context.Context, endpoint string, form url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(g.ClientID), url.QueryEscape(g.ClientSecret))
	resp, err := g.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	switch {
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		// The body names the OAuth error; it never echoes credentials.
		return fmt.Errorf("%w: HTTP %d: %s", ErrRejected, resp.StatusCode, strings.TrimSpace(string(body)))
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("HTTP %d from %s", resp.StatusCode, endpoint)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(body, out)
}
