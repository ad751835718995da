package app_test

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/xdg-go/scram"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/app"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/config"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// benchLimits lifts the per-IP limits: every benchmark client comes from 127.0.0.1.
const benchLimits = "limits: {connection_rate_per_ip: 100000, connection_burst_per_ip: 100000, max_connections: 100000, " +
	"max_pre_auth_connections: 100000, max_pre_auth_per_ip: 100000, max_concurrent_password_grants: 10000, free_failed_logins: 100000}\n"

// benchNoFile is the open-file limit benchmarks ask for.
const benchNoFile = 65536

// benchEnv raises the open-file limit before the shared services start (Prosody
// inherits it: an explicit Setrlimit stops Go from restoring the old soft limit in
// children) and returns them.
func benchEnv(b *testing.B) *testenv.Env {
	b.Helper()
	raiseNoFile()
	return testenv.Require(b)
}

// raiseNoFile raises the open-file limit to benchNoFile, as a deployment would.
func raiseNoFile() {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		// As a deployment would (LimitNOFILE): root may raise the hard limit too,
		// which 10,000 sessions (two descriptors each in the proxy) need.
		if lim.Max < benchNoFile {
			raised := syscall.Rlimit{Cur: benchNoFile, Max: benchNoFile}
			if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
				lim = raised
			}
		}
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

// startBenchStack is startStack with a quiet logger (warnings only): the debug log
// of thousands of logins would cost time and memory in the measured process.
func startBenchStack(b *testing.B, env *testenv.Env, extra string) *stack {
	b.Helper()
	return startBenchStackOn(b, env, env.Prosody, extra)
}

// startBenchStackOn is startBenchStack in front of srv.
func startBenchStackOn(b *testing.B, env *testenv.Env, srv testenv.Server, extra string) *stack {
	b.Helper()
	l := listenAny
	l.WebSocket = "127.0.0.1:0"
	return startBenchStackYAML(b, env, srv, env.ProxyConfigFor(srv, l, extra))
}

// startBenchStackYAML is startBenchStackOn with the whole config given.
func startBenchStackYAML(b *testing.B, env *testenv.Env, srv testenv.Server, yaml string) *stack {
	b.Helper()
	path := filepath.Join(b.TempDir(), "proxy.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		b.Fatal(err)
	}
	logs := &syncBuffer{}
	b.Cleanup(func() {
		if b.Failed() {
			b.Logf("proxy log:\n%s", logs.String())
		}
	})
	a := runBenchApp(b, path, zerolog.New(logs).Level(zerolog.WarnLevel))
	addrs := a.Addrs()
	st := &stack{env: env, srv: srv, starttls: addrs[0], direct: addrs[1], metrics: a.MetricsAddr(), logs: logs, roots: rootsOf(b, srv), app: a}
	if len(addrs) > 2 {
		st.ws = addrs[2]
	}
	return st
}

// runBenchApp runs the proxy configured by the YAML file at path until tb ends
// and returns it once it is ready.
func runBenchApp(tb testing.TB, path string, log zerolog.Logger) *app.App {
	tb.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	a, err := app.New(cfg, log)
	if err != nil {
		tb.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			tb.Error("proxy did not stop")
		}
	})
	readyCtx, cancelReady := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancelReady()
	if err := a.WaitReady(readyCtx); err != nil {
		tb.Fatalf("proxy not ready: %v", err)
	}
	return a
}

// prosodyStack points the stack helpers straight at Prosody: same certificate,
// same domain, no proxy.
func prosodyStack(b *testing.B, env *testenv.Env) *stack { return serverStack(b, env, env.Prosody) }

// serverStack points the stack helpers straight at srv.
func serverStack(b testing.TB, env *testenv.Env, srv testenv.Server) *stack {
	up := srv.Info()
	return &stack{env: env, srv: srv, starttls: up.C2SAddr, direct: up.DirectTLSAddr, roots: rootsOf(b, srv)}
}

func benchRoots(b *testing.B, env *testenv.Env) *x509.CertPool { return rootsOf(b, env.Prosody) }

// rootsOf trusts srv's self-signed certificate (the proxy in front of it reuses it).
func rootsOf(b testing.TB, srv testenv.Server) *x509.CertPool {
	pem, err := os.ReadFile(srv.Info().CertFile)
	if err != nil {
		b.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	return roots
}

// Server-only accounts for the direct baselines: not IdP users, so the proxy's
// managed passwords never touch them. Keyed by server name and user.
var benchAccounts struct {
	sync.Mutex
	made map[[2]string]bool
}

const benchDirectPassword = "bench-direct-password"

// prosodyUser registers user straight in Prosody once per process.
func prosodyUser(b *testing.B, env *testenv.Env, user string) { serverUser(b, env.Prosody, user) }

// serverUser registers user straight in srv once per process.
func serverUser(b testing.TB, srv testenv.Server, user string) {
	b.Helper()
	key := [2]string{srv.Info().Name, user}
	benchAccounts.Lock()
	defer benchAccounts.Unlock()
	if benchAccounts.made[key] {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Register(ctx, user, benchDirectPassword); err != nil {
		b.Fatal(err)
	}
	if benchAccounts.made == nil {
		benchAccounts.made = map[[2]string]bool{}
	}
	benchAccounts.made[key] = true
}

// scramClient makes a SCRAM-SHA-1 client for user that caches its salted password.
func scramClient(b *testing.B, user, password string) *scram.Client {
	b.Helper()
	c, err := scram.SHA1.NewClient(user, password, "")
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// idpToken is an access token of user from the real IdP's password grant.
func idpToken(b testing.TB, env *testenv.Env, user string) string {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := env.IdP.PasswordToken(ctx, user, env.IdP.Users[user])
	if err != nil {
		b.Fatal(err)
	}
	return tok
}
