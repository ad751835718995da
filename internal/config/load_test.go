package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

func TestExampleLoads(t *testing.T) {
	path, _ := testenv.ExampleConfig(t, "../../configs")
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.OAuth.UsernameField; got != "preferred_username" {
		t.Errorf("username_field = %q", got)
	}
	if cfg.OAuth.AllowInsecureHTTP || len(cfg.OAuth.UsernameRealms) != 0 {
		t.Errorf("allow_insecure_http = %v, username_realms = %v", cfg.OAuth.AllowInsecureHTTP, cfg.OAuth.UsernameRealms)
	}
	if len(cfg.Listeners) != 3 || cfg.Listeners[1].Mode != "direct" || cfg.Listeners[2].Mode != "websocket" ||
		cfg.Listeners[2].Path != "/xmpp-websocket" || cfg.Listeners[2].PingInterval != 50*time.Second {
		t.Errorf("listeners = %+v", cfg.Listeners)
	}
	u := cfg.Domains[0].Upstream
	if u.Credentials != "managed" || u.LoginTimeout != 10*time.Second {
		t.Errorf("upstream = %+v", u)
	}
	if !filepath.IsAbs(cfg.TLS.Certificates[0].CertFile) {
		t.Errorf("cert path not resolved: %s", cfg.TLS.Certificates[0].CertFile)
	}
	if _, err := os.Stat(cfg.TLS.Certificates[0].CertFile); err != nil {
		t.Errorf("example certificate missing: %v", err)
	}
}

// minimal is the smallest valid config; tests change one thing in it.
const minimal = `
listeners: [{address: "127.0.0.1:5222", mode: starttls}]
tls: {certificates: [{cert_file: a.crt, key_file: a.key}]}
domains:
  - name: example.org
    upstream: {address: "127.0.0.1:15222", credentials: passthrough}
oauth:
  issuer: https://idp.example.org/realms/x
  client_id: proxy
`

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "proxy.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsApply(t *testing.T) {
	cfg, err := Load(write(t, minimal))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OAuth.Scope != "openid" || !cfg.OAuth.ResourceOwnerPassword || cfg.OAuth.Validation != "auto" {
		t.Errorf("oauth defaults not applied: %+v", cfg.OAuth)
	}
	if cfg.Limits.PreAuthTimeout != 30*time.Second || cfg.Limits.MaxElementBytes != 65536 {
		t.Errorf("limit defaults not applied: %+v", cfg.Limits)
	}
	if cfg.Domains[0].Upstream.TLS != "starttls" {
		t.Errorf("upstream tls default = %q", cfg.Domains[0].Upstream.TLS)
	}
}

func TestRejects(t *testing.T) {
	cases := []struct {
		name, body, wantKey string
	}{
		{"misspelt key", strings.Replace(minimal, "client_id:", "clien_id:", 1), `unknown key "oauth.clien_id"`},
		{"misspelt top-level key", minimal + "limit: {max_connections: 5}\n", `unknown key "limit"`},
		{"misspelt key in list item", strings.Replace(minimal, "credentials:", "credential:", 1), `credential`},
		{"bad URL", strings.Replace(minimal, "https://idp.example.org/realms/x", "idp.example.org", 1), "oauth.issuer"},
		{"bad URL scheme", strings.Replace(minimal, "https://idp", "ftp://idp", 1), "oauth.issuer"},
		{"wrong type", minimal + "limits: {max_auth_attempts: three}\n", "max_auth_attempts"},
		{"bad duration", minimal + "limits: {pre_auth_timeout: soon}\n", "pre_auth_timeout"},
		{"bad enum", minimal + "log: {format: xml}\n", "log.format"},
		{"no oauth endpoint", strings.Replace(minimal, "issuer: https://idp.example.org/realms/x", "scope: openid", 1), "oauth"},
		{"plaintext to remote upstream", strings.Replace(minimal, `address: "127.0.0.1:15222"`, `address: "xmpp.example.org:5222", tls: none`, 1), "upstream.tls"},
		{"managed without secret", strings.Replace(minimal, "credentials: passthrough", "credentials: managed", 1), "secret_key"},
		{"missing listener", strings.Replace(minimal, `listeners: [{address: "127.0.0.1:5222", mode: starttls}]`, "", 1), "listeners"},
		{"http IdP on a remote host", strings.Replace(minimal, "https://idp", "http://idp", 1), "oauth.issuer"},
		{"http endpoint on a remote host", minimal + "  jwks_url: http://10.0.0.5/jwks\n", "oauth.jwks_url"},
		{"realm with @", minimal + "  username_realms: [\"a@b\"]\n", "oauth.username_realms"},
		{"missing secret file", strings.Replace(minimal, "client_id: proxy", "client_id: proxy\n  client_secret_file: /nonexistent/secret", 1), "oauth.client_secret_file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := write(t, c.body)
			_, err := Load(path)
			if err == nil {
				t.Fatal("loaded without error")
			}
			if !strings.Contains(err.Error(), c.wantKey) {
				t.Errorf("error %q does not name %q", err, c.wantKey)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	t.Setenv("XMPP_OAUTH_PROXY_OAUTH_CLIENT_SECRET", "from-env")
	t.Setenv("XMPP_OAUTH_PROXY_LIMITS_MAX_AUTH_ATTEMPTS", "7")
	cfg, err := Load(write(t, minimal))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OAuth.ClientSecret != "from-env" || cfg.Limits.MaxAuthAttempts != 7 {
		t.Errorf("env overrides not applied: secret set=%v attempts=%d", cfg.OAuth.ClientSecret == "from-env", cfg.Limits.MaxAuthAttempts)
	}
}

func TestSecretFromFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("s3cr3t-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(minimal, "client_id: proxy", "client_id: proxy\n  client_secret_file: secret", 1)
	p := filepath.Join(dir, "proxy.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OAuth.ClientSecret != "s3cr3t-value" {
		t.Errorf("client secret from file not read (relative to the config's directory)")
	}

	both := strings.Replace(body, "client_id: proxy", "client_id: proxy\n  client_secret: inline-s3cr3t", 1)
	if err := os.WriteFile(p, []byte(both), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(p)
	if err == nil || !strings.Contains(err.Error(), "both set") {
		t.Fatalf("want a both-set error, got %v", err)
	}
	if strings.Contains(err.Error(), "inline-s3cr3t") || strings.Contains(err.Error(), "s3cr3t-value") {
		t.Errorf("error leaks the secret: %v", err)
	}
}

// http:// to the IdP is allowed on loopback, elsewhere only when asked for.
func TestInsecureHTTPIdP(t *testing.T) {
	for _, tc := range []struct{ issuer, extra string }{
		{"http://127.0.0.1:4593/api/oidc", ""},
		{"http://localhost/realms/x", ""},
		{"http://[::1]:8080/realms/x", ""},
		{"http://idp.example.org/realms/x", "  allow_insecure_http: true\n"},
	} {
		cfg, err := Load(write(t, strings.Replace(minimal, "https://idp.example.org/realms/x", tc.issuer, 1)+tc.extra))
		if err != nil {
			t.Errorf("%s: %v", tc.issuer, err)
			continue
		}
		if got := cfg.OAuth.InsecureHTTPURLs(); (tc.extra != "") != (len(got) == 1) {
			t.Errorf("%s: insecure URLs %v", tc.issuer, got)
		}
	}
}
