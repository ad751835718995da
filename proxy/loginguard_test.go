package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// gatedAuth holds every password check until release is closed, then fails it.
type gatedAuth struct {
	release            chan struct{}
	entered            atomic.Int32
	running, maxAtOnce atomic.Int32
}

func newGatedAuth() *gatedAuth { return &gatedAuth{release: make(chan struct{})} }

func (a *gatedAuth) CheckPassword(context.Context, string, string) (saslauth.Identity, error) {
	a.entered.Add(1)
	n := a.running.Add(1)
	for m := a.maxAtOnce.Load(); n > m && !a.maxAtOnce.CompareAndSwap(m, n); m = a.maxAtOnce.Load() {
	}
	defer a.running.Add(-1)
	<-a.release
	return saslauth.Identity{}, saslauth.ErrInvalidCredentials
}

func (a *gatedAuth) CheckToken(ctx context.Context, _ string) (saslauth.Identity, error) {
	return a.CheckPassword(ctx, "", "")
}

func ctxFrom(ip string) context.Context {
	return context.WithValue(context.Background(), remoteIPKey{}, netip.MustParseAddr(ip))
}

// guessInParallel runs n password checks at once, the i-th from ip(i) as user(i),
// and returns once each has either reached inner or been turned away, and then
// all have ended.
func guessInParallel(t *testing.T, auth saslauth.Authenticator, inner *gatedAuth, n int, ip, user func(int) string) (refused int) {
	t.Helper()
	var returned, temporary atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := auth.CheckPassword(ctxFrom(ip(i)), user(i), "guess")
			if errors.Is(err, saslauth.ErrTemporary) {
				temporary.Add(1)
			}
			returned.Add(1)
		})
	}
	waitFor(t, "every guess to be decided", func() bool {
		return int(inner.entered.Load()+returned.Load()) >= n
	})
	close(inner.release)
	wg.Wait()
	return int(temporary.Load())
}

// Guesses in flight count: 300 at once for one username, from addresses of one
// /64, must not all reach the IdP before the first failure is recorded.
func TestLoginGuardCountsGuessesInFlight(t *testing.T) {
	limits := Limits{}
	limits.setDefaults()
	inner := newGatedAuth()
	auth := guardedAuthenticator{inner: inner, guard: newLoginGuard(&limits), observer: nopObserver{}}
	refused := guessInParallel(t, auth, inner, 300,
		func(i int) string { return fmt.Sprintf("2001:db8::%x", i+1) },
		func(int) string { return "mallory" })
	if got, most := int(inner.entered.Load()), limits.FreeFailures+1; got > most {
		t.Errorf("%d of 300 parallel guesses reached the IdP, want at most %d", got, most)
	}
	if refused+int(inner.entered.Load()) != 300 {
		t.Errorf("%d refused with temporary-auth-failure, %d reached the IdP: some got another answer", refused, inner.entered.Load())
	}
}

// Rotating through the addresses of one IPv6 /64 is one client, not thousands.
func TestLoginGuardKeysIPv6ByPrefix(t *testing.T) {
	limits := Limits{}
	limits.setDefaults()
	inner := &scriptedAuth{err: saslauth.ErrInvalidCredentials}
	auth := guardedAuthenticator{inner: inner, guard: newLoginGuard(&limits), observer: nopObserver{}}
	for i := range 1000 {
		ip := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 8: byte(i >> 8), 9: byte(i), 15: 1})
		ctx := context.WithValue(context.Background(), remoteIPKey{}, ip)
		_, _ = auth.CheckPassword(ctx, fmt.Sprintf("user%d", i), "guess") // a new username each time
	}
	if most := limits.FreeFailures + 1; inner.calls > most {
		t.Errorf("%d guesses from one /64 reached the IdP, want at most %d", inner.calls, most)
	}
}

func TestClientKey(t *testing.T) {
	cases := []struct {
		ip     string
		v6Bits int
		want   string
	}{
		{"192.0.2.7", 64, "192.0.2.7/32"},
		{"2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2:3:4:5:6", 48, "2001:db8:1::/48"},
		{"2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6/128"},
	}
	for _, tc := range cases {
		if got := clientKey(netip.MustParseAddr(tc.ip), tc.v6Bits); got.String() != tc.want {
			t.Errorf("clientKey(%s, %d) = %s, want %s", tc.ip, tc.v6Bits, got, tc.want)
		}
	}
}

// The password grants in flight, over all users and addresses, are capped.
func TestPasswordGrantsCapped(t *testing.T) {
	limits := Limits{MaxConcurrentPasswordGrants: 2}
	limits.setDefaults()
	inner := newGatedAuth()
	guard := newLoginGuard(&limits)
	auth := guardedAuthenticator{inner: inner, guard: guard, observer: nopObserver{}}
	const n = 10
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, _ = auth.CheckPassword(ctxFrom(fmt.Sprintf("192.0.2.%d", i+1)), fmt.Sprintf("u%d", i), "pw")
		})
	}
	waitFor(t, "all but two to queue", func() bool { return guard.grants.waiting() == n-2 })
	if got := inner.entered.Load(); got != 2 {
		t.Errorf("%d grants at the IdP at once, want 2", got)
	}
	close(inner.release)
	wg.Wait()
	if got := inner.entered.Load(); got != n {
		t.Errorf("%d of %d queued grants ran", got, n)
	}
	if got := inner.maxAtOnce.Load(); got > 2 {
		t.Errorf("%d grants at once, want at most 2", got)
	}
}
