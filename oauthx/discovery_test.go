package oauthx

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func endpointMap(c *Client) map[string]string {
	m := map[string]string{}
	for _, e := range c.Endpoints() {
		m[e.Name] = e.URL
	}
	return m
}

func TestDiscoveryFromIssuer(t *testing.T) {
	f := newFakeIdP(t)
	c, _ := start(t, f.config(ValidationAuto))
	got := endpointMap(c)
	want := map[string]string{
		"issuer": f.issuer, "discovery": f.url("/.well-known/openid-configuration"), "token": f.url("/token"),
		"userinfo": f.url("/userinfo"), "introspection": f.url("/introspect"), "jwks": f.url("/jwks"),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if c.DiscoveryURL() != want["discovery"] || !c.CanPassword() || !c.CanValidate() {
		t.Errorf("DiscoveryURL %q CanPassword %v CanValidate %v", c.DiscoveryURL(), c.CanPassword(), c.CanValidate())
	}
}

func TestDiscoveryConfigWins(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config(ValidationUserinfo)
	cfg.UserinfoEndpoint = "http://127.0.0.1:1/elsewhere"
	cfg.TokenEndpoint = f.url("/token?configured=1")
	c, _ := start(t, cfg)
	got := endpointMap(c)
	if got["userinfo"] != cfg.UserinfoEndpoint || got["token"] != cfg.TokenEndpoint || got["introspection"] != f.url("/introspect") {
		t.Errorf("endpoints %v: configured values must win, others come from discovery", got)
	}
}

func TestDiscoveryRFC8414(t *testing.T) {
	f := newFakeIdP(t)
	f.set("/.well-known/openid-configuration", http.NotFound)
	// RFC 8414 section 3: the well-known part goes between host and path.
	var rfc atomic.Bool
	f.srv.Config.Handler.(*http.ServeMux).HandleFunc("/.well-known/oauth-authorization-server/realm", func(w http.ResponseWriter, r *http.Request) {
		rfc.Store(true)
		f.metadata(w)
	})
	c, _ := start(t, f.config(ValidationAuto))
	if !rfc.Load() || c.DiscoveryURL() != f.srv.URL+"/.well-known/oauth-authorization-server/realm" {
		t.Errorf("RFC 8414 document not used: DiscoveryURL %q", c.DiscoveryURL())
	}
	if endpointMap(c)["token"] != f.url("/token") {
		t.Errorf("token endpoint not discovered: %v", c.Endpoints())
	}
}

func TestDiscoveryExplicitURL(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config(ValidationAuto)
	cfg.Issuer = ""
	cfg.DiscoveryURL = f.url("/.well-known/openid-configuration")
	c, _ := start(t, cfg)
	if endpointMap(c)["issuer"] != f.issuer {
		t.Errorf("issuer not taken from the document: %v", c.Endpoints())
	}
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	f := newFakeIdP(t)
	f.meta["issuer"] = "https://evil.example/realm"
	c := startNeverReady(t, f.config(ValidationAuto), "an issuer mismatch")
	if _, err := c.ValidateToken(context.Background(), "x.y.z"); !errors.Is(err, ErrMisconfigured) {
		t.Errorf("ValidateToken = %v, want ErrMisconfigured", err)
	}
}

// startNeverReady starts a client, waits for its first load to fail and
// expects it misconfigured.
func startNeverReady(t *testing.T, cfg Config, why string) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.Start(context.Background())
	for c.lastErr.Load() == nil && !c.Ready() { // the first attempt is over
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.WaitReady(ctx); !errors.Is(err, ErrMisconfigured) {
		t.Fatalf("WaitReady = %v, want ErrMisconfigured", err)
	}
	if c.Ready() {
		t.Errorf("ready despite %s", why)
	}
	return c
}

// Metadata that sends tokens or the client secret over plain HTTP off
// loopback is refused unless AllowInsecureHTTP; so is such a configured URL.
func TestDiscoveryInsecureHTTPEndpoint(t *testing.T) {
	f := newFakeIdP(t)
	f.meta["token_endpoint"] = "http://idp.example.org/token"
	c := startNeverReady(t, f.config(ValidationAuto), "an http token endpoint")
	if _, err := c.PasswordLogin(context.Background(), "alice", "alice-pw"); !errors.Is(err, ErrMisconfigured) {
		t.Errorf("PasswordLogin = %v, want ErrMisconfigured", err)
	}

	cfg := f.config(ValidationAuto)
	cfg.AllowInsecureHTTP = true
	c2, logs := start(t, cfg)
	if endpointMap(c2)["token"] != "http://idp.example.org/token" {
		t.Errorf("endpoints %v", c2.Endpoints())
	}
	if !strings.Contains(logs.String(), `"level":"warn"`) || !strings.Contains(logs.String(), "http://idp.example.org/token") {
		t.Errorf("no warning naming the insecure endpoint: %s", logs.String())
	}

	cfg.AllowInsecureHTTP = false
	cfg.JWKSURL = "http://10.0.0.1/jwks"
	if _, err := New(cfg); !errors.Is(err, ErrMisconfigured) {
		t.Errorf("New with an http jwks_url: %v, want ErrMisconfigured", err)
	}
}

// The server is down at start: New and Start return at once, the client is not
// ready and logins fail as unavailable; once the server answers, it becomes ready.
func TestDiscoveryRetriesUntilReachable(t *testing.T) {
	f := newFakeIdP(t)
	down := make(chan struct{})
	f.set("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-down:
			f.metadata(w)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	c, err := New(f.config(ValidationAuto))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Start(context.Background())
	if c.Ready() {
		t.Fatal("ready before discovery")
	}
	if _, err := c.PasswordLogin(context.Background(), "alice", "alice-pw"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("PasswordLogin before discovery = %v, want ErrUnavailable", err)
	}
	for f.hit("/.well-known/openid-configuration") < 2 { // a retry happened
		time.Sleep(20 * time.Millisecond)
	}
	close(down)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("not ready after the server came back: %v", err)
	}
	if id, err := c.PasswordLogin(context.Background(), "alice", "alice-pw"); err != nil || id.Username != "alice" {
		t.Errorf("PasswordLogin = %+v, %v", id, err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"nothing":          {},
		"bad url":          {Issuer: "idp.example.org"},
		"bad validation":   {Issuer: "https://idp", Validation: "magic"},
		"bad mapping":      {Issuer: "https://idp", UsernameMapping: "lower"},
		"bad auth method":  {Issuer: "https://idp", TokenEndpointAuthMethod: "private_key_jwt"},
		"password no id":   {Issuer: "https://idp", ResourceOwnerPassword: true},
		"bad field":        {Issuer: "https://idp", UsernameField: "a..b"},
		"jwt no jwks":      {TokenEndpoint: "https://idp/token", Validation: ValidationJWT},
		"userinfo no url":  {TokenEndpoint: "https://idp/token", Validation: ValidationUserinfo},
		"missing CA file":  {Issuer: "https://idp", CAFile: "/nonexistent/ca.pem"},
		"negative timeout": {Issuer: "https://idp", Timeout: -time.Second},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrMisconfigured) {
			t.Errorf("%s: New = %v, want ErrMisconfigured", name, err)
		}
	}
}

// Without discovery and with every endpoint configured, the client is ready
// without any request.
func TestReadyWithoutDiscovery(t *testing.T) {
	c, err := New(Config{TokenEndpoint: "http://127.0.0.1:1/token", UserinfoEndpoint: "http://127.0.0.1:1/ui",
		ClientID: "x", ResourceOwnerPassword: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Ready() || !c.CanPassword() || !c.CanValidate() || c.DiscoveryURL() != "" {
		t.Errorf("Ready %v CanPassword %v CanValidate %v DiscoveryURL %q", c.Ready(), c.CanPassword(), c.CanValidate(), c.DiscoveryURL())
	}
}

// Broken metadata or keys keep the client not ready, with the right class.
func TestDiscoveryFaults(t *testing.T) {
	body := func(status int, s string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status); _, _ = w.Write([]byte(s)) }
	}
	for name, tc := range map[string]struct {
		path string
		h    http.HandlerFunc
		want error
	}{
		"metadata 500":      {"/.well-known/openid-configuration", body(500, ""), ErrUnavailable},
		"metadata not JSON": {"/.well-known/openid-configuration", body(200, "<html>"), ErrUnavailable},
		"metadata 403":      {"/.well-known/openid-configuration", body(403, ""), ErrMisconfigured},
		"jwks 500":          {"/jwks", body(500, ""), ErrUnavailable},
		"jwks not JSON":     {"/jwks", body(200, "keys"), ErrUnavailable},
		"jwks no keys":      {"/jwks", body(200, `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`), ErrUnavailable},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeIdP(t)
			f.set(tc.path, tc.h)
			c, err := New(f.config(ValidationJWT))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Start(context.Background())
			for c.lastErr.Load() == nil { // the first attempt has failed
				time.Sleep(10 * time.Millisecond)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if err := c.WaitReady(ctx); !errors.Is(err, tc.want) {
				t.Errorf("WaitReady = %v, want %v", err, tc.want)
			}
		})
	}
}
