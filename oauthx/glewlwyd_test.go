package oauthx

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// glewlwydConfig discovers the real Glewlwyd's main plugin from its issuer.
func glewlwydConfig(t testing.TB, mode string) (*testenv.Glewlwyd, Config) {
	t.Helper()
	g := testenv.Require(t).IdP
	return g, Config{Issuer: g.Issuer, ClientID: g.ClientID, ClientSecret: g.ClientSecret, Scope: g.Scope,
		ResourceOwnerPassword: true, Validation: mode}
}

func TestGlewlwydDiscovery(t *testing.T) {
	g, cfg := glewlwydConfig(t, ValidationAuto)
	c, _ := start(t, cfg)
	got := endpointMap(c)
	for name, want := range map[string]string{
		"issuer": g.Issuer, "discovery": g.DiscoveryURL, "token": g.TokenURL, "userinfo": g.UserinfoURL,
		"introspection": g.IntrospectURL, "jwks": g.JWKSURL,
	} {
		if got[name] != want {
			t.Errorf("%s = %q, want %q", name, got[name], want)
		}
	}
	if c.DiscoveryURL() != g.DiscoveryURL {
		t.Errorf("DiscoveryURL = %q", c.DiscoveryURL())
	}

	// Configured endpoints win: send userinfo to the short plugin, which does
	// not know the main plugin's tokens, and watch the validation fail there.
	cfg.Validation = ValidationUserinfo
	cfg.UserinfoEndpoint = g.ShortUserinfoURL
	c2, _ := start(t, cfg)
	if endpointMap(c2)["userinfo"] != g.ShortUserinfoURL {
		t.Fatalf("configured userinfo endpoint not used: %v", c2.Endpoints())
	}
	tok, err := g.PasswordToken(t.Context(), "alice", g.Users["alice"])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.ValidateToken(t.Context(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("main-plugin token at the short plugin's userinfo: %v, want ErrInvalidToken", err)
	}
	if id, err := c.ValidateToken(t.Context(), tok); err != nil || id.Username != "alice" {
		t.Errorf("discovered client: %+v, %v", id, err)
	}
}

func TestGlewlwydPasswordLogin(t *testing.T) {
	for _, mode := range []string{ValidationAuto, ValidationJWT, ValidationUserinfo, ValidationIntrospection} {
		t.Run(mode, func(t *testing.T) {
			g, cfg := glewlwydConfig(t, mode)
			c, _ := start(t, cfg)
			ctx := t.Context()
			id, err := c.PasswordLogin(ctx, "alice", g.Users["alice"])
			if err != nil || id.Username != "alice" || id.AccessToken == "" || id.Expires.IsZero() {
				t.Fatalf("right password: %+v, %v", id, err)
			}
			_, err = c.PasswordLogin(ctx, "alice", "wrong-password")
			wantClass(t, "wrong password", err, ErrInvalidCredentials)
			_, err = c.PasswordLogin(ctx, "nobody", "whatever")
			wantClass(t, "unknown user", err, ErrInvalidCredentials)
		})
	}
	g, cfg := glewlwydConfig(t, ValidationAuto)
	cfg.ClientSecret = "not-the-secret"
	c, _ := start(t, cfg)
	_, err := c.PasswordLogin(t.Context(), "alice", g.Users["alice"])
	wantClass(t, "wrong client secret", err, ErrMisconfigured)
	if errors.Is(err, ErrInvalidCredentials) {
		t.Error("a wrong client secret looks like a wrong password")
	}
	cfg.ClientSecret, cfg.TokenEndpointAuthMethod = g.ClientSecret, AuthPost
	c2, _ := start(t, cfg)
	if id, err := c2.PasswordLogin(t.Context(), "bob", g.Users["bob"]); err != nil || id.Username != "bob" {
		t.Errorf("client_secret_post: %+v, %v", id, err)
	}
}

// Each mode accepts a real token and rejects a tampered one and one signed by
// another key (the short plugin's); introspection also sees a revoked one.
func TestGlewlwydValidation(t *testing.T) {
	for _, mode := range []string{ValidationAuto, ValidationJWT, ValidationUserinfo, ValidationIntrospection} {
		t.Run(mode, func(t *testing.T) {
			g, cfg := glewlwydConfig(t, mode)
			cfg.CacheSize = -1
			if mode == ValidationJWT {
				cfg.Audience = "xmpp" // Glewlwyd's aud is the scope list "openid xmpp"
			}
			c, _ := start(t, cfg)
			ctx := t.Context()
			tok, err := g.PasswordToken(ctx, "bob", g.Users["bob"])
			if err != nil {
				t.Fatal(err)
			}
			if id, err := c.ValidateToken(ctx, tok); err != nil || id.Username != "bob" || id.Subject == "" {
				t.Fatalf("real token: %+v, %v", id, err)
			}
			_, err = c.ValidateToken(ctx, tamper(tok))
			wantClass(t, "tampered", err, ErrInvalidToken)
			other, err := g.ShortPasswordToken(ctx, "bob", g.Users["bob"])
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.ValidateToken(ctx, other)
			wantClass(t, "signed by the other plugin's key", err, ErrInvalidToken)

			if err := g.Revoke(ctx, tok); err != nil {
				t.Fatal(err)
			}
			_, err = c.ValidateToken(ctx, tok)
			switch mode {
			case ValidationIntrospection, ValidationUserinfo:
				wantClass(t, "revoked", err, ErrInvalidToken)
			default: // a JWT checked locally stays valid until it expires
				if err != nil {
					t.Errorf("revoked JWT checked locally: %v", err)
				}
			}
		})
	}
}

// Tokens of the short plugin expire after a few seconds: every mode rejects
// them then. The JWT check allows 30 s of clock skew, so jwt mode is shown
// expiring with a lifetime past that leeway only in the httptest tests.
func TestGlewlwydExpired(t *testing.T) {
	g := testenv.Require(t).IdP
	ctx := t.Context()
	tok, err := g.ShortPasswordToken(ctx, "carol", g.Users["carol"])
	if err != nil {
		t.Fatal(err)
	}
	clients := map[string]*Client{}
	for _, mode := range []string{ValidationUserinfo, ValidationIntrospection} {
		c, _ := start(t, Config{Issuer: g.ShortIssuer, ClientID: g.ClientID, ClientSecret: g.ClientSecret,
			Validation: mode, CacheSize: -1})
		if id, err := c.ValidateToken(ctx, tok); err != nil || id.Username != "carol" {
			t.Fatalf("%s: fresh short token: %+v, %v", mode, id, err)
		}
		clients[mode] = c
	}
	time.Sleep(g.ShortTokenLifetime + 1500*time.Millisecond)
	for mode, c := range clients {
		_, err := c.ValidateToken(ctx, tok)
		wantClass(t, mode+": expired", err, ErrInvalidToken)
	}
}

// The proxy's promise: one request per PLAIN login in auto mode, none per
// OAUTHBEARER login of a known token.
func TestGlewlwydRequestBudget(t *testing.T) {
	g, cfg := glewlwydConfig(t, ValidationAuto)
	obs := &countingObserver{}
	cfg.Observer = obs
	c, _ := start(t, cfg)
	count := func() int {
		obs.mu.Lock()
		defer obs.mu.Unlock()
		n := 0
		for k, v := range obs.requests {
			if k != "discovery/ok" && k != "jwks/ok" {
				n += v
			}
		}
		return n
	}
	id, err := c.PasswordLogin(t.Context(), "alice", g.Users["alice"])
	if err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Errorf("PLAIN login cost %d requests, want 1: %v", n, obs.requests)
	}
	tok, err := g.PasswordToken(t.Context(), "bob", g.Users["bob"])
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range []string{id.AccessToken, tok, tok} {
		if _, err := c.ValidateToken(t.Context(), tk); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(); n != 1 {
		t.Errorf("OAUTHBEARER logins cost %d more requests, want 0: %v", n-1, obs.requests)
	}
}

func benchValidate(b *testing.B, mode string, cacheSize int, tokenOf func(b *testing.B, g *testenv.Glewlwyd) string) {
	g, cfg := glewlwydConfig(b, mode)
	cfg.CacheSize = cacheSize
	c, _ := start(b, cfg)
	tok := tokenOf(b, g)
	if _, err := c.ValidateToken(context.Background(), tok); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(2) // 2 x GOMAXPROCS callers keep the IdP busy
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.ValidateToken(context.Background(), tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "validations/s")
}

func oneToken(b *testing.B, g *testenv.Glewlwyd) string {
	tok, err := g.PasswordToken(context.Background(), "alice", g.Users["alice"])
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

// The uncached modes turn the cache off, so every iteration does the real work.
func BenchmarkGlewlwydUserinfo(b *testing.B) { benchValidate(b, ValidationUserinfo, -1, oneToken) }
func BenchmarkGlewlwydIntrospection(b *testing.B) {
	benchValidate(b, ValidationIntrospection, -1, oneToken)
}
func BenchmarkGlewlwydJWT(b *testing.B)      { benchValidate(b, ValidationJWT, -1, oneToken) }
func BenchmarkGlewlwydCacheHit(b *testing.B) { benchValidate(b, ValidationUserinfo, 0, oneToken) }

func BenchmarkGlewlwydPasswordLogin(b *testing.B) {
	g, cfg := glewlwydConfig(b, ValidationAuto)
	c, _ := start(b, cfg)
	b.SetParallelism(2)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.PasswordLogin(context.Background(), "alice", g.Users["alice"]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "logins/s")
}
