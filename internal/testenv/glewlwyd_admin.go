package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// adminDo sends one JSON request to the admin REST API with the session
// cookie and fails on any status but 200.
func (g *Glewlwyd) adminDo(ctx context.Context, method, path string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, g.BaseURL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.admin.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("glewlwyd %s %s: HTTP %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}

// adminLogin opens an admin session. Glewlwyd asks for the password again
// after ten minutes, so callers log in before each batch of changes.
func (g *Glewlwyd) adminLogin(ctx context.Context) error {
	err := g.adminDo(ctx, http.MethodPost, "/auth/", map[string]string{
		"username": g.AdminUser, "password": g.AdminPassword,
	})
	if err != nil {
		return fmt.Errorf("glewlwyd admin login: %w", err)
	}
	return nil
}

// configure creates the xmpp scope, both OIDC plugins, the client and the
// users through the admin API, as an operator would.
func (g *Glewlwyd) configure(ctx context.Context, mainKey, shortKey *selfSigned, users map[string]string) error {
	if err := g.adminLogin(ctx); err != nil {
		return err
	}
	steps := []struct {
		path string
		body any
	}{
		{"/scope/", map[string]any{
			"name": "xmpp", "display_name": "XMPP", "description": "Log in to XMPP",
			"password_required": false, "scheme": map[string]any{},
		}},
		{"/mod/plugin/", g.pluginConfig(mainPlugin, g.Issuer, mainKey, time.Hour)},
		{"/mod/plugin/", g.pluginConfig(shortPlugin, g.ShortIssuer, shortKey, g.ShortTokenLifetime)},
		{"/mod/plugin/", g.defaultLikePluginConfig(mainKey)},
		{"/client/", g.clientBody()},
	}
	for _, s := range steps {
		if err := g.adminDo(ctx, http.MethodPost, s.path, s.body); err != nil {
			return err
		}
	}
	for name, pw := range users {
		if err := g.adminDo(ctx, http.MethodPost, "/user/", userBody(name, pw)); err != nil {
			return err
		}
		g.Users[name] = pw
	}
	return nil
}

// clientBody is the confidential client: the password grant for PLAIN, the
// code flow for the portal (redirect URIs added by AllowRedirectURI).
func (g *Glewlwyd) clientBody() map[string]any {
	g.clientMu.Lock()
	defer g.clientMu.Unlock()
	scopes := []string{"openid", "xmpp"}
	if g.mfaReady {
		scopes = append(scopes, MFAScope)
	}
	return map[string]any{
		"client_id": g.ClientID, "name": g.ClientID, "confidential": true, "enabled": true,
		"password": g.ClientSecret, "client_secret": g.ClientSecret,
		"authorization_type": []string{"code", "password", "client_credentials", "refresh_token"},
		// Without this list the password grant answers HTTP 500.
		"token_endpoint_auth_method": []string{"client_secret_basic", "client_secret_post"},
		"redirect_uri":               append([]string{"http://127.0.0.1/callback"}, g.redirects...),
		"scope":                      scopes,
	}
}

func userBody(name, password string) map[string]any {
	return map[string]any{
		"username": name, "name": name, "email": name + "@example.org", "enabled": true,
		"password": password, "scope": []string{"openid", "xmpp"},
	}
}

// pluginConfig is an OIDC plugin instance: RS256 with the given key, the
// password grant on, introspection and revocation for the client, the
// username as preferred_username in both the JWT access token and userinfo.
func (g *Glewlwyd) pluginConfig(name, iss string, key *selfSigned, accessTTL time.Duration) map[string]any {
	return map[string]any{
		"module": "oidc", "name": name, "display_name": name, "enabled": true,
		"parameters": map[string]any{
			"iss":                              iss,
			"jwt-type":                         "rsa",
			"jwt-key-size":                     "256",
			"key":                              string(key.KeyPEM),
			"cert":                             string(key.CertPEM),
			"access-token-duration":            int(accessTTL / time.Second),
			"refresh-token-duration":           1209600,
			"code-duration":                    600,
			"refresh-token-rolling":            true,
			"allow-non-oidc":                   true,
			"auth-type-code-enabled":           true,
			"auth-type-token-enabled":          true,
			"auth-type-id-token-enabled":       true,
			"auth-type-none-enabled":           true,
			"auth-type-password-enabled":       true,
			"auth-type-client-enabled":         true,
			"auth-type-refresh-enabled":        true,
			"pkce-allowed":                     true, // the portal's code flow sends S256 challenges
			"pkce-method-plain-allowed":        false,
			"scope":                            []string{},
			"additional-parameters":            []map[string]string{{"user-parameter": "username", "token-parameter": "preferred_username"}},
			"claims":                           []map[string]any{{"name": "preferred_username", "user-property": "username", "type": "string", "mandatory": true, "on-demand": false, "scope": []string{}}},
			"jwks-show":                        true,
			"introspection-revocation-allowed": true,
			"introspection-revocation-allow-target-client": true,
			"subject-type":  "public",
			"address-claim": map[string]any{"type": "no"},
			"name-claim":    "on-demand",
			"email-claim":   "no",
			"scope-claim":   "no",
		},
	}
}

// defaultLikePluginConfig is the main plugin as Glewlwyd configures one by
// default in one respect that matters to the proxy: its JWT access tokens do
// not carry the username (only an opaque sub). ID tokens and userinfo still
// name the user.
func (g *Glewlwyd) defaultLikePluginConfig(key *selfSigned) map[string]any {
	c := g.pluginConfig(defaultLikePlugin, g.DefaultLikeIssuer, key, time.Hour)
	delete(c["parameters"].(map[string]any), "additional-parameters")
	return c
}

// AddUser creates an IdP user with scopes openid and xmpp, or resets the
// password and scopes of an existing one.
func (g *Glewlwyd) AddUser(ctx context.Context, user, password string) error {
	if err := g.adminLogin(ctx); err != nil {
		return err
	}
	err := g.adminDo(ctx, http.MethodPost, "/user/", userBody(user, password))
	if err == nil {
		return nil
	}
	// Glewlwyd refuses to create a user twice; update it instead.
	if err2 := g.adminDo(ctx, http.MethodPut, "/user/"+url.PathEscape(user), userBody(user, password)); err2 != nil {
		return errors.Join(err, err2)
	}
	return nil
}

// LetAdminUseXMPP gives Glewlwyd's own administrator (AdminUser) the openid
// and xmpp scopes, so that an IdP user named like the upstream's admin account
// can get tokens: the collision the proxy must refuse. Its admin rights and
// password stay.
func (g *Glewlwyd) LetAdminUseXMPP(ctx context.Context) error {
	if err := g.adminLogin(ctx); err != nil {
		return err
	}
	body := userBody(g.AdminUser, g.AdminPassword)
	body["scope"] = []string{"g_admin", "g_profile", "openid", "xmpp"}
	return g.adminDo(ctx, http.MethodPut, "/user/"+url.PathEscape(g.AdminUser), body)
}

// DeleteUser removes an IdP user, as an admin does when someone leaves.
func (g *Glewlwyd) DeleteUser(ctx context.Context, user string) error {
	if err := g.adminLogin(ctx); err != nil {
		return err
	}
	return g.adminDo(ctx, http.MethodDelete, "/user/"+url.PathEscape(user), nil)
}
