package app_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// soakHarness runs the soak's proxy and watches it: memory samples, events on
// the same clock, and the waits between the soak's phases. Waits end on counts;
// their deadlines only turn a hang into a failure.
type soakHarness struct {
	env    *testenv.Env
	child  *soakChild
	logs   *syncBuffer
	tls    *tls.Config
	direct string
	scrape *stack // only its metrics address: the proxy's /metrics
	tokens map[string]string

	memMu   sync.Mutex // one question to the child at a time
	mu      sync.Mutex
	start   time.Time
	samples []soakSample
	events  []soakEvent
	stopped chan struct{}
	stopOne sync.Once
}

type soakEvent struct {
	at   time.Duration
	name string
}

// soakWait bounds each phase's wait; a long run scales it with its size.
const soakWait = 2 * time.Minute

func newSoakHarness(t *testing.T, env *testenv.Env) *soakHarness {
	ports := freeAddrs(t, 3)
	h := &soakHarness{env: env, logs: &syncBuffer{}, tls: soakRoots(t, env), direct: ports[1], scrape: &stack{metrics: ports[2]},
		tokens: map[string]string{}, start: time.Now(), stopped: make(chan struct{})}
	h.child = startSoakChild(t, writeSoakConfig(t, env, ports), h.logs)
	t.Cleanup(h.stopSampling)
	t.Cleanup(func() {
		if path := os.Getenv("SOAK_LOG"); path != "" {
			_ = os.WriteFile(path, []byte(h.logs.String()), 0o644)
		}
		if t.Failed() {
			t.Logf("proxy log (tail):\n%s", tail(h.logs.String(), 40))
		}
	})
	h.waitLog(t, "authorization server metadata loaded", 0)
	h.waitLog(t, `"listening"`, 0)
	for _, u := range []string{"alice", "bob"} {
		h.tokens[u] = idpToken(t, env, u)
	}
	return h
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func (h *soakHarness) opts(user, resource string) loginOpts {
	return loginOpts{addr: h.direct, direct: true, tls: h.tls, domain: h.env.Prosody.Domain,
		mech: "OAUTHBEARER", user: user, secret: h.tokens[user], resource: resource}
}

// waitLog waits for a log line containing s after the first from bytes.
func (h *soakHarness) waitLog(t *testing.T, s string, from int) {
	t.Helper()
	deadline := time.Now().Add(soakWait)
	for !strings.Contains(h.logs.String()[from:], s) {
		if time.Now().After(deadline) {
			t.Fatalf("the proxy never logged %q", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// memNow measures the proxy (after GC) and keeps the sample.
func (h *soakHarness) memNow(t *testing.T) soakSample {
	h.memMu.Lock()
	heap, g, err := h.child.mem()
	h.memMu.Unlock()
	if err != nil {
		t.Error(err)
		return soakSample{}
	}
	s := soakSample{at: time.Since(h.start), heap: heap, goroutines: g}
	h.mu.Lock()
	h.samples = append(h.samples, s)
	h.mu.Unlock()
	return s
}

// sampleEvery measures the proxy every d until drain.
func (h *soakHarness) sampleEvery(d time.Duration, t *testing.T) {
	go func() {
		tick := time.NewTicker(d)
		defer tick.Stop()
		for {
			select {
			case <-h.stopped:
				return
			case <-tick.C:
				h.memNow(t)
			}
		}
	}()
}

func (h *soakHarness) stopSampling() { h.stopOne.Do(func() { close(h.stopped) }) }

func (h *soakHarness) event(name string) {
	h.mu.Lock()
	h.events = append(h.events, soakEvent{at: time.Since(h.start), name: name})
	h.mu.Unlock()
}

// reload sends SIGHUP and waits for the proxy to say it reloaded.
func (h *soakHarness) reload(t *testing.T) {
	from := len(h.logs.String())
	if err := h.child.signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	h.waitLog(t, "reloaded TLS certificates", from)
}

// quiesce waits until every sent message is acked and every acked one arrived.
func (h *soakHarness) quiesce(t *testing.T, run *soakRun, all []*soakSession) {
	t.Helper()
	deadline := time.Now().Add(soakWait)
	for {
		unacked := 0
		for _, s := range all {
			_, q, _ := s.state()
			unacked += q
		}
		tot := run.totals()
		if unacked == 0 && tot.lost == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not settled: %d messages unacked; %v", unacked, tot)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitConnected waits until every session is connected, and has connected
// again since before when before is given.
func (h *soakHarness) waitConnected(t *testing.T, ss []*soakSession, before []int) {
	t.Helper()
	deadline := time.Now().Add(soakWait + time.Duration(len(ss))*10*time.Millisecond)
	for {
		waiting := 0
		for i, s := range ss {
			on, _, n := s.state()
			if !on || before != nil && n <= before[i] {
				waiting++
			}
		}
		if waiting == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d sessions never (re)connected", waiting, len(ss))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitSettled waits for the proxy's goroutines and heap to come back to what
// they were before the load, and fails if they do not.
func (h *soakHarness) waitSettled(t *testing.T, base soakSample, heapSlack int64) soakSample {
	t.Helper()
	// A closed session stays referenced by its linger timer (proxy/relay.go,
	// 5 s) until the timer fires: measure after that.
	time.Sleep(6 * time.Second)
	deadline := time.Now().Add(soakWait)
	for {
		s := h.memNow(t)
		open := h.scrape.scrape(t, "xmpp_oauth_proxy_connections_open")
		ok := open == 0 && s.goroutines <= base.goroutines+goroutineSlack && s.heap <= base.heap+heapSlack
		if ok || time.Now().After(deadline) {
			if path := os.Getenv("SOAK_HEAPPROFILE"); path != "" {
				h.memMu.Lock()
				fmt.Fprintln(h.child.stdin, "prof "+path)
				h.memMu.Unlock()
				h.memNow(t) // answered after the profile is written
			}
		}
		if ok {
			return s
		}
		if time.Now().After(deadline) {
			t.Errorf("leak: before the load %d goroutines, heap %d B; after it %d goroutines, heap %d B, %v connections open",
				base.goroutines, base.heap, s.goroutines, s.heap, open)
			return s
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// drain logs a few sessions in, sends SIGTERM, and checks that they get
// system-shutdown after the drain period and that the proxy exits cleanly.
func (h *soakHarness) drain(t *testing.T) {
	t.Helper()
	var keep []*benchConn
	for i := range 5 {
		c, _, err := benchLogin(context.Background(), h.opts("alice", "keep"+string(rune('a'+i))))
		if err != nil {
			t.Fatalf("login before SIGTERM: %v", err)
		}
		keep = append(keep, c)
	}
	h.stopSampling()
	h.event("SIGTERM")
	if err := h.child.signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for _, c := range keep {
		_ = c.conn.SetDeadline(time.Now().Add(soakWait))
		var last element
		for {
			el, err := c.next()
			if err != nil {
				break
			}
			last = el
		}
		if last.XMLName.Local != "error" || last.child() != "system-shutdown" {
			t.Errorf("a session at SIGTERM ended with <%s>%s, want system-shutdown", last.XMLName.Local, last.Inner)
		}
		c.conn.Close()
	}
	select {
	case err := <-h.child.exit:
		if err != nil {
			t.Errorf("proxy exit after SIGTERM: %v", err)
		}
	case <-time.After(soakWait):
		t.Fatal("proxy did not exit after SIGTERM")
	}
}

func (h *soakHarness) samplesCopy() []soakSample {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]soakSample(nil), h.samples...)
}

func (h *soakHarness) eventsCopy() []soakEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]soakEvent(nil), h.events...)
}
