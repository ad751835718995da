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

// stack is a running proxy in front of a shared real upstream server (Prosody
// unless startStackOn says otherwise) and Glewlwyd.
type stack struct {
	env              *testenv.Env
	srv              testenv.Server
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

// startStackOn runs the proxy in front of srv until the test ends.
func startStackOn(t testing.TB, srv testenv.Server, extra string) *stack {
	t.Helper()
	env := testenv.Require(t)
	return startStackReady(t, env, srv, env.ProxyConfigFor(srv, listenAny, extra), true)
}

// onEachServer runs f as a subtest per upstream server (Prosody, ejabberd),
// each with a proxy in front of it (extra appended to its config).
func onEachServer(t *testing.T, extra string, f func(t *testing.T, s *stack)) {
	t.Helper()
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) { f(t, startStackOn(t, srv, extra)) })
}

// startStackFor runs the proxy with a config that fronts Prosody.
func startStackFor(t testing.TB, env *testenv.Env, yaml string) *stack {
	t.Helper()
	return startStackReady(t, env, env.Prosody, yaml, true)
}

// startStackNoWait starts the proxy without waiting for the IdP.
func startStackNoWait(t testing.TB, env *testenv.Env, yaml string) *stack {
	t.Helper()
	return startStackReady(t, env, env.Prosody, yaml, false)
}

// startStackReady runs the proxy with yaml, whose upstream (and certificate) is srv's.
func startStackReady(t testing.TB, env *testenv.Env, srv testenv.Server, yaml string, waitReady bool) *stack {
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
	pem, err := os.ReadFile(srv.Info().CertFile)
	if err != nil {
		t.Fatal(err)
	}
	roots.AppendCertsFromPEM(pem)
	addrs := a.Addrs()
	st := &stack{env: env, srv: srv, starttls: addrs[0], direct: addrs[1], metrics: a.MetricsAddr(), logs: logs, roots: roots, app: a}
	if len(addrs) > 2 {
		st.ws = addrs[2]
	}
	return st
}

func (s *stack) tlsConfig() *tls.Config {
	return &tls.Config{RootCAs: s.roots, ServerName: s.domain(), MinVersion: tls.VersionTLS12}
}

// domain is the XMPP domain, the upstream server's.
func (s *stack) domain() string {
	if s.srv == nil { // a stack pointed straight at Prosody (benchmarks)
		return s.env.Prosody.Domain
	}
	return s.srv.Info().Domain
}

func (s *stack) jid(user string) string { return user + "@" + s.domain() }

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
