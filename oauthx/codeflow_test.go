package oauthx

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// codeIdP makes f answer the code flow: the token endpoint checks the code
// and the PKCE verifier against the challenge of the last authorization URL
// and returns an ID token with the given claims.
func codeIdP(t *testing.T, f *fakeIdP, challenge *string, idClaims func() map[string]any) {
	f.mu.Lock()
	f.meta["authorization_endpoint"] = f.url("/auth")
	f.mu.Unlock()
	f.set("/token", func(w http.ResponseWriter, r *http.Request) {
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		switch {
		case !f.clientOK(r):
			writeJSON(w, 401, map[string]string{"error": "invalid_client"})
		case r.PostFormValue("grant_type") != "authorization_code" || r.PostFormValue("code") != "the-code" ||
			base64.RawURLEncoding.EncodeToString(sum[:]) != *challenge ||
			r.PostFormValue("redirect_uri") != "https://portal.example/callback":
			writeJSON(w, 400, map[string]string{"error": "invalid_grant"})
		default:
			writeJSON(w, 200, map[string]any{"access_token": f.issue("alice"), "token_type": "Bearer",
				"refresh_token": "rt-alice", "id_token": signJWT(t, f.key, f.kid, "JWT", f.issuer, time.Hour, idClaims())})
		}
	})
}

func TestCodeFlow(t *testing.T) {
	f := newFakeIdP(t)
	var challenge string
	var claims map[string]any
	codeIdP(t, f, &challenge, func() map[string]any { return claims })
	c, _ := start(t, f.config(ValidationAuto))
	if !c.CanCodeFlow() {
		t.Fatal("CanCodeFlow is false with an authorization endpoint in the metadata")
	}

	req := NewAuthRequest("https://portal.example/callback")
	u, err := c.AuthCodeURL(req)
	if err != nil {
		t.Fatal(err)
	}
	parsed, _ := url.Parse(u)
	q := parsed.Query()
	challenge = q.Get("code_challenge")
	sum := sha256.Sum256([]byte(req.Verifier))
	if q.Get("code_challenge_method") != "S256" || challenge != base64.RawURLEncoding.EncodeToString(sum[:]) ||
		q.Get("state") != req.State || q.Get("nonce") != req.Nonce || q.Get("client_id") != testClientID ||
		!strings.HasPrefix(u, f.url("/auth?")) || !strings.Contains(q.Get("scope"), "openid") {
		t.Fatalf("authorization URL %s lacks S256 PKCE, state, nonce, client_id or openid", u)
	}

	good := func() map[string]any {
		return map[string]any{"sub": "sub-alice", "aud": testClientID, "nonce": req.Nonce, "preferred_username": "Alice"}
	}
	claims = good()
	in, err := c.ExchangeCode(t.Context(), "the-code", req)
	if err != nil {
		t.Fatal(err)
	}
	if in.Username != "alice" || in.Subject != "sub-alice" || in.RefreshToken != "rt-alice" || in.Expires.Before(time.Now()) {
		t.Fatalf("sign-in = %+v, want alice (normalised), sub-alice, rt-alice, a future expiry", in)
	}

	for _, tc := range []struct {
		name   string
		change func(map[string]any)
		code   string
		want   error
	}{
		{"wrong nonce", func(m map[string]any) { m["nonce"] = "another" }, "the-code", ErrInvalidToken},
		{"no nonce", func(m map[string]any) { delete(m, "nonce") }, "the-code", ErrInvalidToken},
		{"other audience", func(m map[string]any) { m["aud"] = "someone-else" }, "the-code", ErrInvalidToken},
		{"other azp", func(m map[string]any) { m["azp"] = "someone-else" }, "the-code", ErrInvalidToken},
		{"wrong code", func(map[string]any) {}, "not-the-code", ErrInvalidCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			claims = good()
			tc.change(claims)
			_, err := c.ExchangeCode(t.Context(), tc.code, req)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("wrong verifier", func(t *testing.T) {
		claims = good()
		bad := req
		bad.Verifier = NewAuthRequest("").Verifier
		if _, err := c.ExchangeCode(t.Context(), "the-code", bad); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("err = %v, want ErrInvalidCredentials", err)
		}
	})
}

func TestCodeFlowNeedsAuthorizationEndpoint(t *testing.T) {
	f := newFakeIdP(t)
	c, _ := start(t, f.config(ValidationAuto))
	if c.CanCodeFlow() {
		t.Fatal("CanCodeFlow is true without an authorization endpoint")
	}
	if _, err := c.AuthCodeURL(NewAuthRequest("https://portal.example/callback")); !errors.Is(err, ErrMisconfigured) {
		t.Fatalf("err = %v, want ErrMisconfigured", err)
	}
}

// TestCodeFlowAsksOfflineAccess: where the server lists offline_access, the
// sign-in asks for it (a refresh token that outlives the browser session);
// where it does not, the scope stays as configured.
func TestCodeFlowAsksOfflineAccess(t *testing.T) {
	for _, offered := range []bool{false, true} {
		f := newFakeIdP(t)
		var challenge string
		codeIdP(t, f, &challenge, func() map[string]any { return nil })
		if offered {
			f.mu.Lock()
			f.meta["scopes_supported"] = []string{"openid", "profile", "offline_access"}
			f.mu.Unlock()
		}
		c, _ := start(t, f.config(ValidationAuto))
		u, err := c.AuthCodeURL(NewAuthRequest("https://portal.example/callback"))
		if err != nil {
			t.Fatal(err)
		}
		parsed, _ := url.Parse(u)
		scopes := strings.Fields(parsed.Query().Get("scope"))
		if slices.Contains(scopes, "offline_access") != offered || !slices.Contains(scopes, "openid") {
			t.Errorf("offline_access offered=%v: scope %q", offered, scopes)
		}
	}
}
