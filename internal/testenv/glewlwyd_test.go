package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// getJSON fetches url (with an optional bearer token) and decodes the answer.
func getJSON(t *testing.T, ctx context.Context, url, bearer string, out any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// verifyJWT checks the token's RS256 signature against jwksURL and returns
// its claims.
func verifyJWT(t *testing.T, ctx context.Context, jwksURL, token string) map[string]any {
	t.Helper()
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("access token is not an RS256 JWS: %v", err)
	}
	var set jose.JSONWebKeySet
	getJSON(t, ctx, jwksURL, "", &set)
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) == 0 {
		t.Fatalf("kid %q not in %s", jws.Signatures[0].Header.KeyID, jwksURL)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func TestPasswordGrantTokenCarriesUsername(t *testing.T) {
	env, ctx := Require(t), testCtx(t)
	tok, err := env.IdP.PasswordToken(ctx, "alice", env.IdP.Users["alice"])
	if err != nil {
		t.Fatal(err)
	}
	claims := verifyJWT(t, ctx, env.IdP.JWKSURL, tok)
	if claims["preferred_username"] != "alice" {
		t.Errorf("preferred_username = %v, want alice", claims["preferred_username"])
	}
	if claims["iss"] != env.IdP.Issuer {
		t.Errorf("iss = %v, want %s", claims["iss"], env.IdP.Issuer)
	}
	if claims["client_id"] != env.IdP.ClientID {
		t.Errorf("client_id = %v, want %s", claims["client_id"], env.IdP.ClientID)
	}
}

func TestPasswordGrantWrongPassword(t *testing.T) {
	env, ctx := Require(t), testCtx(t)
	_, err := env.IdP.PasswordToken(ctx, "alice", "not-"+env.IdP.Users["alice"])
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("err = %v, want ErrRejected", err)
	}
	_, err = env.IdP.PasswordToken(ctx, "nobody", "whatever")
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("unknown user: err = %v, want ErrRejected", err)
	}
}

func TestUserinfo(t *testing.T) {
	env, ctx := Require(t), testCtx(t)
	tok, err := env.IdP.PasswordToken(ctx, "bob", env.IdP.Users["bob"])
	if err != nil {
		t.Fatal(err)
	}
	var info map[string]any
	getJSON(t, ctx, env.IdP.UserinfoURL, tok, &info)
	if info["preferred_username"] != "bob" {
		t.Errorf("userinfo = %v, want preferred_username bob", info)
	}
}

func TestIntrospection(t *testing.T) {
	env, ctx := Require(t), testCtx(t)
	tok, err := env.IdP.PasswordToken(ctx, "carol", env.IdP.Users["carol"])
	if err != nil {
		t.Fatal(err)
	}
	got, err := env.IdP.Introspect(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if got["active"] != true || got["username"] != "carol" {
		t.Errorf("real token: %v, want active carol", got)
	}
	if got, err := env.IdP.Introspect(ctx, "garbage"); err != nil || got["active"] != false {
		t.Errorf("garbage: %v, %v; want active false", got, err)
	}
	if err := env.IdP.Revoke(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if got, err := env.IdP.Introspect(ctx, tok); err != nil || got["active"] != false {
		t.Errorf("revoked token: %v, %v; want active false", got, err)
	}
}

func TestDiscovery(t *testing.T) {
	env, ctx := Require(t), testCtx(t)
	for _, p := range []struct {
		discovery, issuer, token, userinfo, introspect, revoke, jwks string
	}{
		{env.IdP.DiscoveryURL, env.IdP.Issuer, env.IdP.TokenURL, env.IdP.UserinfoURL, env.IdP.IntrospectURL, env.IdP.RevokeURL, env.IdP.JWKSURL},
		{env.IdP.ShortDiscoveryURL, env.IdP.ShortIssuer, env.IdP.ShortTokenURL, env.IdP.ShortUserinfoURL, env.IdP.ShortIntrospectURL, env.IdP.ShortRevokeURL, env.IdP.ShortJWKSURL},
	} {
		var doc map[string]any
		getJSON(t, ctx, p.discovery, "", &doc)
		want := map[string]string{
			"issuer": p.issuer, "token_endpoint": p.token, "userinfo_endpoint": p.userinfo,
			"introspection_endpoint": p.introspect, "revocation_endpoint": p.revoke, "jwks_uri": p.jwks,
		}
		for k, v := range want {
			if doc[k] != v {
				t.Errorf("%s: %s = %v, want %s", p.discovery, k, doc[k], v)
			}
		}
	}
}

func TestAddUser(t *testing.T) {
	env, ctx := Require(t), testCtx(t)
	if err := env.IdP.AddUser(ctx, "dave", "dave-first"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.IdP.PasswordToken(ctx, "dave", "dave-first"); err != nil {
		t.Fatal(err)
	}
	// A second AddUser resets the password.
	if err := env.IdP.AddUser(ctx, "dave", "dave-second"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.IdP.PasswordToken(ctx, "dave", "dave-first"); !errors.Is(err, ErrRejected) {
		t.Errorf("old password: err = %v, want ErrRejected", err)
	}
	if _, err := env.IdP.PasswordToken(ctx, "dave", "dave-second"); err != nil {
		t.Error(err)
	}
}

// TestShortTokenExpires waits (polling) until the short plugin reports its
// token inactive; only this test waits for the clock.
func TestShortTokenExpires(t *testing.T) {
	env, ctx := Require(t), testCtx(t)
	tok, err := env.IdP.ShortPasswordToken(ctx, "alice", env.IdP.Users["alice"])
	if err != nil {
		t.Fatal(err)
	}
	claims := verifyJWT(t, ctx, env.IdP.ShortJWKSURL, tok)
	exp, _ := claims["exp"].(float64)
	iat, _ := claims["iat"].(float64)
	if got := time.Duration(exp-iat) * time.Second; got != env.IdP.ShortTokenLifetime {
		t.Errorf("exp-iat = %v, want ShortTokenLifetime %v", got, env.IdP.ShortTokenLifetime)
	}
	if claims["iss"] != env.IdP.ShortIssuer || claims["preferred_username"] != "alice" {
		t.Errorf("claims = %v, want iss %s and preferred_username alice", claims, env.IdP.ShortIssuer)
	}
	for {
		got, err := env.IdP.ShortIntrospect(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		if got["active"] == false {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("short token still active: %v", got)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
