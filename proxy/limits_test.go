package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// countingObserver records refusals by reason.
type countingObserver struct {
	nopObserver
	mu      sync.Mutex
	refused map[string]int
}

func (o *countingObserver) Refused(reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.refused == nil {
		o.refused = map[string]int{}
	}
	o.refused[reason]++
}

func (o *countingObserver) count(reason string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.refused[reason]
}

func TestMaxConnectionsGetsResourceConstraint(t *testing.T) {
	obs := &countingObserver{}
	e := newEnv(t, nil, func(c *Config) {
		c.Limits.MaxConnections = 2
		c.Observer = obs
	})
	first := e.preAuthClient()
	e.preAuthClient()
	e.expectRefused("resource-constraint")
	if obs.count("max_connections") != 1 {
		t.Errorf("refusal not counted")
	}
	// Room again once one closes.
	first.conn.Close()
	waitFor(t, "a free slot", func() bool {
		conn, err := net.Dial("tcp", e.addr)
		if err != nil {
			return false
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(ioTimeout))
		if _, err := io.WriteString(conn, clientHeader); err != nil {
			return false
		}
		br := bufio.NewReader(conn)
		got := ""
		for !strings.Contains(got, "</stream:features>") && !strings.Contains(got, "</stream:stream>") {
			more, err := br.ReadString('>')
			if err != nil {
				return false
			}
			got += more
		}
		return strings.Contains(got, "<starttls")
	})
}

// rateLimitedEnv is a proxy whose clients may connect burst times in all.
func rateLimitedEnv(t *testing.T, burst int) (*env, *countingObserver) {
	obs := &countingObserver{}
	e := newEnv(t, nil, func(c *Config) {
		c.Limits.ConnectionRate = 0.001 // no refill during the test
		c.Limits.ConnectionBurst = burst
		c.Observer = obs
	})
	return e, obs
}

func TestConnectionRatePerIP(t *testing.T) {
	e, obs := rateLimitedEnv(t, 3)
	for i := 0; i < 3; i++ {
		e.preAuthClient().conn.Close()
	}
	e.expectRefused("policy-violation")
	if obs.count("connection_rate") != 1 {
		t.Errorf("refusal not counted")
	}
}

// scriptedAuth answers every password check with err and counts calls.
type scriptedAuth struct {
	mu    sync.Mutex
	calls int
	err   error
}

func (a *scriptedAuth) CheckPassword(context.Context, string, string) (saslauth.Identity, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	return saslauth.Identity{}, a.err
}

func (a *scriptedAuth) CheckToken(context.Context, string) (saslauth.Identity, error) {
	return a.CheckPassword(context.Background(), "", "")
}

func TestLoginGuardGrowingDelays(t *testing.T) {
	limits := Limits{FreeFailures: 2, FailureDelay: time.Second, MaxFailureDelay: 4 * time.Second}
	limits.setDefaults()
	g := newLoginGuard(&limits)
	now := time.Unix(1000, 0)
	g.now = func() time.Time { return now }
	inner := &scriptedAuth{err: saslauth.ErrInvalidCredentials}
	auth := guardedAuthenticator{inner: inner, guard: g, observer: nopObserver{}}
	ctx := context.WithValue(context.Background(), remoteIPKey{}, netip.MustParseAddr("192.0.2.1"))

	try := func() error { _, err := auth.CheckPassword(ctx, "Mallory", "guess"); return err }
	// Free failures, then the third failure blocks for 1s, the fourth for 2s, ...
	for i, wantDelay := range []time.Duration{0, 0, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		if err := try(); !errors.Is(err, saslauth.ErrInvalidCredentials) {
			t.Fatalf("attempt %d: %v", i, err)
		}
		if wantDelay == 0 {
			continue
		}
		// Blocked just before the delay ends, never reaching the authenticator.
		calls := inner.calls
		now = now.Add(wantDelay - time.Millisecond)
		if err := try(); !errors.Is(err, saslauth.ErrTemporary) || !errors.Is(err, errTooManyFailures) {
			t.Fatalf("attempt %d within the delay: %v", i, err)
		}
		if inner.calls != calls {
			t.Fatal("a blocked attempt reached the authenticator")
		}
		now = now.Add(time.Millisecond)
	}

	// Another user from another address is not affected...
	other := context.WithValue(context.Background(), remoteIPKey{}, netip.MustParseAddr("198.51.100.1"))
	inner.err = nil
	if _, err := auth.CheckPassword(other, "alice", "right"); err != nil {
		t.Fatalf("unrelated login blocked: %v", err)
	}
	// ...but the same username from a fresh address is: per-user counting.
	inner.err = saslauth.ErrInvalidCredentials
	if _, err := auth.CheckPassword(other, "mallory", "guess"); !errors.Is(err, saslauth.ErrInvalidCredentials) {
		t.Fatalf("after the delay: %v", err)
	}
	if _, err := auth.CheckPassword(other, "mallory", "guess"); !errors.Is(err, errTooManyFailures) {
		t.Fatalf("username not blocked from another address: %v", err)
	}
}

// fail is one failed attempt, if the guard lets it through.
func (g *loginGuard) fail(keys []string) {
	if g.begin(keys) == nil {
		g.end(keys, true)
	}
}

// blocks reports whether the guard turns an attempt away now.
func (g *loginGuard) blocks(keys []string) bool {
	if err := g.begin(keys); err != nil {
		return true
	}
	g.end(keys, false)
	return false
}

func TestLoginGuardSuccessForgetsUser(t *testing.T) {
	limits := Limits{FreeFailures: 1, FailureDelay: time.Hour}
	limits.setDefaults()
	g := newLoginGuard(&limits)
	keys := g.keysFor(netip.Addr{}, "bob")
	g.fail(keys)
	if g.blocks(keys) {
		t.Fatal("blocked after a free failure")
	}
	g.fail(keys)
	if !g.blocks(keys) {
		t.Fatal("not blocked after a failure beyond the free ones")
	}
	g.succeeded("BOB")
	if g.blocks(keys) {
		t.Fatal("success did not forget the user's failures")
	}
}

func TestLoginGuardForgetsAfterQuietPeriod(t *testing.T) {
	limits := Limits{FreeFailures: 1, FailureDelay: time.Second}
	limits.setDefaults()
	g := newLoginGuard(&limits)
	now := time.Unix(1000, 0)
	g.now = func() time.Time { return now }
	keys := g.keysFor(netip.MustParseAddr("192.0.2.1"), "")
	g.fail(keys)
	g.fail(keys)
	if !g.blocks(keys) {
		t.Fatal("not blocked")
	}
	now = now.Add(idleTTL + time.Minute)
	g.fail(keys) // counted from scratch: a free failure again
	if g.blocks(keys) {
		t.Fatal("old failures still counted after a quiet period")
	}
}
