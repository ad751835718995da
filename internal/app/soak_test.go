package app_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// soakParams: SOAK_SESSIONS (150 in CI, `make soak` 2,000), SOAK_DURATION of
// the message flow (20s; `make soak` 10m), SOAK_INTERVAL between one sender's
// messages (500ms).
func soakParams() (sessions int, dur, interval time.Duration) {
	sessions, dur, interval = 150, 20*time.Second, 500*time.Millisecond
	if v, err := strconv.Atoi(os.Getenv("SOAK_SESSIONS")); err == nil && v >= 2 {
		sessions = v
	}
	if v, err := time.ParseDuration(os.Getenv("SOAK_DURATION")); err == nil && v > 0 {
		dur = v
	}
	if v, err := time.ParseDuration(os.Getenv("SOAK_INTERVAL")); err == nil && v > 0 {
		interval = v
	}
	return sessions, dur, interval
}

// goroutineSlack: idle keep-alive connections to the IdP (two goroutines each)
// come and go with the churn logins; a per-session leak is far above it.
const goroutineSlack = 10

// heapSlack is the growth of the proxy's live heap (after GC) allowed from
// before the load to after it: 1 MiB of bounded caches (tokens, login guard,
// metrics), plus 2 KiB per session for what is sized by the peak and never
// shrinks (the runtime keeps every goroutine descriptor it ever made, ~1 KiB
// per goroutine at the login burst's peak; maps keep their buckets). A session
// left behind costs ~20 KiB, ten times more.
func heapSlack(sessions int) int64 { return 1<<20 + int64(sessions)*2<<10 }

// TestSoak runs N sessions with stream management through a proxy in a child
// process, half sending numbered messages to the other half, while the IdP
// restarts twice, Prosody once (a crash), and the proxy reloads its
// certificates (SIGHUP) and is finally drained (SIGTERM). It fails on an acked
// message that never arrives, on goroutines or heap left behind by the load,
// and on an unclean exit. The services are its own, not the shared ones.
func TestSoak(t *testing.T) {
	n, dur, interval := soakParams()
	raiseNoFile()
	env, err := testenv.Start(context.Background(), testenv.Options{})
	if errors.Is(err, testenv.ErrUnavailable) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Close() })
	h := newSoakHarness(t, env)
	began := time.Now()
	h.sampleEvery(max(dur/200, time.Second), t)
	base := h.memNow(t)

	pairs := n / 2
	run := newSoakRun()
	var senders, receivers []*soakSession
	for i := range pairs {
		r := &soakSession{run: run, pair: i, o: h.opts("bob", "r"+strconv.Itoa(i))}
		s := &soakSession{run: run, pair: i, sender: true, o: h.opts("alice", "s"+strconv.Itoa(i)),
			peer: "bob@" + env.Prosody.Domain + "/r" + strconv.Itoa(i)}
		receivers, senders = append(receivers, r), append(senders, s)
	}
	all := append(append([]*soakSession{}, receivers...), senders...)
	var loops sync.WaitGroup
	for _, s := range receivers {
		loops.Go(s.loop)
	}
	h.waitConnected(t, receivers, nil)
	for _, s := range senders {
		loops.Go(s.loop)
	}
	h.waitConnected(t, senders, nil)
	t.Logf("%d sessions logged in after %v", n, time.Since(began).Round(time.Millisecond))
	for i, s := range senders {
		loops.Go(func() { soakSend(run, s, interval, time.Duration(i)*interval/time.Duration(pairs)) })
	}
	loops.Go(func() { soakChurn(run, h.opts("carol", ""), env.IdP.Users["carol"]) })

	flow := time.Now()
	at := func(frac float64) { time.Sleep(time.Until(flow.Add(time.Duration(frac * float64(dur))))) }
	at(0.2)
	h.event("IdP restart")
	if err := env.RestartIdP(context.Background()); err != nil {
		t.Fatal(err)
	}
	at(0.35)
	h.event("SIGHUP")
	h.reload(t)
	at(0.5)
	run.paused.Store(true) // what Prosody acked is delivered before it crashes
	h.quiesce(t, run, all)
	h.event("Prosody restart")
	before := connectsOf(all)
	if err := env.RestartProsody(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.waitConnected(t, all, before)
	run.paused.Store(false)
	at(0.7)
	h.event("IdP restart")
	if err := env.RestartIdP(context.Background()); err != nil {
		t.Fatal(err)
	}
	at(1)
	run.paused.Store(true)
	h.quiesce(t, run, all)
	h.event("load ends")
	run.stop.Store(true)
	for _, s := range all {
		s.close()
	}
	loops.Wait()

	end := h.waitSettled(t, base, heapSlack(n))
	tot := run.totals()
	t.Logf("soak: %d sessions, %v of messages every %v per sender: %v", n, dur, interval, tot)
	t.Logf("soak: %s", run.outcomes())
	t.Logf("soak: proxy before the load: %d goroutines, heap %.1f MiB; after it: %d goroutines, heap %.1f MiB",
		base.goroutines, mib(base.heap), end.goroutines, mib(end.heap))
	if tot.lost != 0 {
		t.Errorf("%d messages acked by the server never arrived", tot.lost)
	}
	if n := run.loginCount("not-authorized"); n != 0 {
		t.Errorf("%d session logins refused: a real client would stop and ask for a password", n)
	}
	if tot.acked == 0 || tot.delivered == 0 {
		t.Errorf("no message went through: %v", tot)
	}
	h.drain(t)
	if path := os.Getenv("SOAK_PLOT"); path != "" {
		if err := plotSoak(path, h.samplesCopy(), h.eventsCopy(), n); err != nil {
			t.Error(err)
		}
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func connectsOf(ss []*soakSession) []int {
	out := make([]int, len(ss))
	for i, s := range ss {
		_, _, out[i] = s.state()
	}
	return out
}

// soakSend sends one message every interval while the run is not paused.
func soakSend(run *soakRun, s *soakSession, interval, offset time.Duration) {
	time.Sleep(offset)
	t := time.NewTicker(interval)
	defer t.Stop()
	for range t.C {
		if run.stopped() {
			return
		}
		if !run.paused.Load() {
			s.send()
		}
	}
}

// soakChurn logs in with the IdP password (a password grant each time), binds
// and leaves, again and again: the logins that IdP restarts touch.
func soakChurn(run *soakRun, o loginOpts, password string) {
	o.mech, o.secret = "PLAIN", password
	for i := 0; !run.stopped(); i++ {
		o.resource = "churn" + strconv.Itoa(i)
		c, _, err := benchLogin(context.Background(), o)
		if err != nil {
			run.churnLogin(loginOutcome(err))
		} else {
			run.churnLogin("ok")
			_ = c.send("</stream:stream>")
			c.conn.Close()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// soakRoots trusts Prosody's certificate, which the proxy reuses.
func soakRoots(t *testing.T, env *testenv.Env) *tls.Config {
	pem, err := os.ReadFile(env.Prosody.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: pool, ServerName: env.Prosody.Domain, MinVersion: tls.VersionTLS12}
}

func writeSoakConfig(t *testing.T, env *testenv.Env, ports []string) string {
	limits := strings.Replace(benchLimits, "}\n", ", shutdown_drain: 2s}\n", 1)
	yaml := env.ProxyConfig(testenv.ProxyListeners{StartTLS: ports[0], Direct: ports[1], Metrics: ports[2]},
		"log: {level: info, format: json}\n"+limits)
	path := filepath.Join(t.TempDir(), "proxy.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
