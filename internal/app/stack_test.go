package app_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/app"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/config"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// stack is a running proxy in front of the shared real Prosody and Glewlwyd.
type stack struct {
	env              *testenv.Env
	starttls, direct string
	ws               string // the websocket listener's address, when configured
	metrics          string
	logs             *syncBuffer
	roots            *x509.CertPool
	app              *app.App
}

// startStack runs the proxy until the test ends. extra is appended to the config.
func startStack(t testing.TB, extra string) *stack {
	t.Helper()
	env := testenv.Require(t)
	return startStackFor(t, env, env.ProxyConfig(testenv.ProxyListeners{
		StartTLS: "127.0.0.1:0", Direct: "127.0.0.1:0", Metrics: "127.0.0.1:0",
	}, extra))
}

func startStackFor(t testing.TB, env *testenv.Env, yaml string) *stack {
	t.Helper()
	return startStackReady(t, env, yaml, true)
}

// startStackNoWait starts the proxy without waiting for the IdP.
func startStackNoWait(t testing.TB, env *testenv.Env, yaml string) *stack {
	t.Helper()
	return startStackReady(t, env, yaml, false)
}

func startStackReady(t testing.TB, env *testenv.Env, yaml string, waitReady bool) *stack {
	t.Helper()
	path := filepath.Join(t.TempDir(), "proxy.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	a, err := app.New(cfg, zerolog.New(logs).Level(zerolog.DebugLevel))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("proxy log:\n%s", logs.String())
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("proxy run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("proxy did not stop")
		}
	})
	if waitReady && !strings.Contains(yaml, "127.0.0.1:1/") { // a deliberately dead IdP never gets ready
		readyCtx, cancelReady := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancelReady()
		if err := a.WaitReady(readyCtx); err != nil {
			t.Fatalf("proxy not ready: %v", err)
		}
	}
	roots := x509.NewCertPool()
	pem, err := os.ReadFile(env.Prosody.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	roots.AppendCertsFromPEM(pem)
	addrs := a.Addrs()
	st := &stack{env: env, starttls: addrs[0], direct: addrs[1], metrics: a.MetricsAddr(), logs: logs, roots: roots, app: a}
	if len(addrs) > 2 {
		st.ws = addrs[2]
	}
	return st
}

func (s *stack) tlsConfig() *tls.Config {
	return &tls.Config{RootCAs: s.roots, ServerName: s.env.Prosody.Domain, MinVersion: tls.VersionTLS12}
}

func (s *stack) jid(user string) string { return user + "@" + s.env.Prosody.Domain }

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var listenAny = testenv.ProxyListeners{StartTLS: "127.0.0.1:0", Direct: "127.0.0.1:0", Metrics: "127.0.0.1:0"}

func testenvRequire(t testing.TB) *testenv.Env { return testenv.Require(t) }
