package oauthx

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The real Glewlwyd's ID token from the password grant (aud and azp = our
// client, at_hash, typ JWT, introspection says token_type id_token) must not
// pass as a bearer token in any mode; its access token still does.
func TestGlewlwydIDTokenRefused(t *testing.T) {
	for _, mode := range []string{ValidationAuto, ValidationJWT, ValidationIntrospection, ValidationUserinfo} {
		t.Run(mode, func(t *testing.T) {
			g, cfg := glewlwydConfig(t, mode)
			cfg.CacheSize = -1
			c, _ := start(t, cfg)
			idt, err := g.PasswordIDToken(t.Context(), "alice", g.Users["alice"])
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.ValidateToken(t.Context(), idt)
			wantClass(t, "ID token as a bearer token", err, ErrInvalidToken)
			tok, err := g.PasswordToken(t.Context(), "alice", g.Users["alice"])
			if err != nil {
				t.Fatal(err)
			}
			if id, err := c.ValidateToken(t.Context(), tok); err != nil || id.Username != "alice" {
				t.Errorf("access token: %+v, %v", id, err)
			}
		})
	}
}

// Token shapes, checked locally: ID tokens and tokens issued to another
// client are refused; access tokens of the usual IdPs pass.
func TestJWTKindAndAudience(t *testing.T) {
	f := newFakeIdP(t)
	c, _ := start(t, f.config(ValidationJWT))
	withAud, _ := start(t, func() Config { cfg := f.config(ValidationJWT); cfg.Audience = "xmpp"; return cfg }())
	user := func(extra map[string]any) map[string]any {
		m := map[string]any{"preferred_username": "alice"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name, typ string
		claims    map[string]any
		client    *Client
		ok        bool
	}{
		{"ID token: at_hash", "JWT", user(map[string]any{"aud": testClientID, "azp": testClientID, "at_hash": "x"}), c, false},
		{"ID token: nonce", "JWT", user(map[string]any{"aud": testClientID, "nonce": "n"}), c, false},
		{"ID token: Keycloak typ ID", "JWT", user(map[string]any{"typ": "ID", "azp": testClientID}), c, false},
		{"ID token of another client", "JWT", user(map[string]any{"aud": "webmail", "azp": "webmail"}), c, false},
		{"access token of another client", "at+jwt", user(map[string]any{"aud": "webmail", "client_id": "webmail"}), c, false},
		{"Glewlwyd: scopes in aud, another client", "at+jwt", user(map[string]any{"aud": "openid xmpp", "client_id": "webmail"}), c, false},
		{"Glewlwyd: scopes in aud, our client", "at+jwt", user(map[string]any{"aud": "openid xmpp", "client_id": testClientID}), c, true},
		{"Glewlwyd: scopes in aud, audience xmpp", "at+jwt", user(map[string]any{"aud": "openid xmpp", "client_id": "webmail"}), withAud, true},
		{"audience set, aud absent", "at+jwt", user(nil), withAud, false},
		{"aud names us", "JWT", user(map[string]any{"aud": []any{testClientID, "account"}, "azp": "app"}), c, true},
		{"Keycloak: aud account, azp us", "JWT", user(map[string]any{"aud": "account", "azp": testClientID, "typ": "Bearer"}), c, true},
		{"Keycloak < 25: nonce in a Bearer token", "JWT", user(map[string]any{"azp": testClientID, "typ": "Bearer", "nonce": "n"}), c, true},
		{"RFC 9068 with nonce", "at+jwt", user(map[string]any{"nonce": "n"}), c, true},
		{"RFC 9068 with at_hash", "at+jwt", user(map[string]any{"at_hash": "x"}), c, false},
		{"no aud", "at+jwt", user(nil), c, true},
	} {
		_, err := tc.client.ValidateToken(context.Background(), signJWT(t, f.key, f.kid, tc.typ, f.issuer, time.Hour, tc.claims))
		wantVerdict(t, tc.name, err, tc.ok)
	}
}

// Introspection answers are checked like JWT claims: an active ID token
// (Glewlwyd answers token_type id_token without a hint) or a token of another
// client is refused; with an audience configured, aud must be in the answer.
func TestIntrospectionKindAndAudience(t *testing.T) {
	f := newFakeIdP(t)
	f.opaque = true
	var answer map[string]any
	f.set("/introspect", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, answer) })
	cfg := f.config(ValidationIntrospection)
	cfg.CacheSize = -1
	c, _ := start(t, cfg)
	cfg.Audience = "xmpp"
	withAud, _ := start(t, cfg)
	for _, tc := range []struct {
		name   string
		answer map[string]any
		client *Client
		ok     bool
	}{
		{"active ID token", map[string]any{"token_type": "id_token", "aud": testClientID}, c, false},
		{"Keycloak ID token", map[string]any{"typ": "ID", "azp": testClientID}, c, false},
		{"another client's token", map[string]any{"aud": "openid xmpp", "client_id": "webmail"}, c, false},
		{"our client's token", map[string]any{"aud": "openid xmpp", "client_id": testClientID, "token_type": "bearer"}, c, true},
		{"no aud", map[string]any{}, c, true},
		{"audience set, no aud", map[string]any{"client_id": testClientID}, withAud, false},
		{"audience set, in aud", map[string]any{"aud": []any{"xmpp"}}, withAud, true},
	} {
		answer = map[string]any{"active": true, "username": "alice", "exp": time.Now().Add(time.Hour).Unix()}
		for k, v := range tc.answer {
			answer[k] = v
		}
		_, err := tc.client.ValidateToken(context.Background(), "opaque-"+strings.ReplaceAll(tc.name, " ", "-"))
		wantVerdict(t, tc.name, err, tc.ok)
	}
}

// UserInfo cannot tell an audience: a JWT is judged by its own claims before
// it is sent, and an opaque token cannot meet a configured audience.
func TestUserinfoKindAndAudience(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config(ValidationUserinfo)
	c, _ := start(t, cfg)
	idt := signJWT(t, f.key, f.kid, "JWT", f.issuer, time.Hour, map[string]any{"preferred_username": "alice", "aud": testClientID, "at_hash": "x"})
	_, err := c.ValidateToken(context.Background(), idt)
	wantClass(t, "ID token", err, ErrInvalidToken)
	if n := f.hit("/userinfo"); n != 0 {
		t.Errorf("the ID token was sent to userinfo (%d requests)", n)
	}
	cfg.Audience = "xmpp"
	withAud, _ := start(t, cfg)
	f.opaque = true
	_, err = withAud.ValidateToken(context.Background(), f.issue("alice"))
	wantClass(t, "opaque token, audience set", err, ErrMisconfigured)
}

// wantVerdict: accepted when ok, else refused as an invalid token.
func wantVerdict(t *testing.T, name string, err error, ok bool) {
	t.Helper()
	if ok && err != nil {
		t.Errorf("%s: refused: %v", name, err)
	}
	if !ok {
		wantClass(t, name, err, ErrInvalidToken)
	}
}
