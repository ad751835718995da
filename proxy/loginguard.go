package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// failureRecord is one key's recent failed logins and its attempts in flight.
type failureRecord struct {
	failures     int
	inFlight     int
	blockedUntil time.Time
	lastFailure  time.Time
}

// loginGuard counts failed logins per client (IP, IPv6 prefix) and per username and
// blocks, with a growing delay, those that keep failing, so password guessing cannot
// hammer the IdP. Attempts in flight count as failures-to-be: parallel guesses get
// no more free tries than sequential ones.
type loginGuard struct {
	limits *Limits
	now    func() time.Time
	grants *semaphore // password grants in flight, over all clients
	mu     sync.Mutex
	byKey  *lru.Cache[string, *failureRecord]
}

func newLoginGuard(l *Limits) *loginGuard {
	byKey, _ := lru.New[string, *failureRecord](trackedKeys) // size > 0: no error
	return &loginGuard{limits: l, now: time.Now, byKey: byKey, grants: newSemaphore(l.MaxConcurrentPasswordGrants)}
}

// Causes of a refused attempt; they name no key.
var (
	errTooManyFailures = errors.New("too many failed logins: try again later")
	errTooManyInFlight = errors.New("too many logins in progress for this user or address: try again later")
	errGrantsBusy      = errors.New("too many password checks in progress: try again later")
)

func (g *loginGuard) keysFor(ip netip.Addr, username string) []string {
	var keys []string
	if ip.IsValid() {
		keys = append(keys, "ip:"+clientKey(ip, g.limits.IPv6PrefixBits).String())
	}
	if username != "" {
		keys = append(keys, "user:"+strings.ToLower(username))
	}
	return keys
}

// record returns k's record, fresh after a quiet period. Called with g.mu held.
func (g *loginGuard) record(k string, now time.Time) *failureRecord {
	r, ok := g.byKey.Get(k)
	if !ok {
		r = &failureRecord{}
		g.byKey.Add(k, r)
	} else if now.Sub(r.lastFailure) > idleTTL && now.After(r.blockedUntil) {
		r.failures = 0 // quiet long enough: a fresh start
	}
	return r
}

// begin admits an attempt for keys and counts it in flight until end; an error
// says why it may not go on.
func (g *loginGuard) begin(keys []string) error {
	if g.limits.FreeFailures < 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	var wait time.Duration
	busy := false
	recs := make([]*failureRecord, len(keys))
	for i, k := range keys {
		r := g.record(k, now)
		recs[i] = r
		if r.blockedUntil.After(now) {
			wait = max(wait, r.blockedUntil.Sub(now))
		}
		// Were every attempt in flight to fail, this one would come after a block:
		// past the free failures, one attempt at a time.
		busy = busy || r.inFlight > 0 && r.failures+r.inFlight > g.limits.FreeFailures
	}
	switch {
	case wait > 0:
		return fmt.Errorf("%w (%s)", errTooManyFailures, wait.Round(time.Second))
	case busy:
		return errTooManyInFlight
	}
	for _, r := range recs {
		r.inFlight++
	}
	return nil
}

// end closes an attempt begin admitted, counting it as a failure if failed.
func (g *loginGuard) end(keys []string, failed bool) {
	if g.limits.FreeFailures < 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	for _, k := range keys {
		r := g.record(k, now)
		r.inFlight = max(r.inFlight-1, 0) // evicted meanwhile: a fresh record
		if !failed {
			continue
		}
		r.failures++
		r.lastFailure = now
		if over := r.failures - g.limits.FreeFailures - 1; over >= 0 {
			delay := g.limits.FailureDelay << min(over, 30)
			if delay <= 0 || delay > g.limits.MaxFailureDelay {
				delay = g.limits.MaxFailureDelay
			}
			r.blockedUntil = now.Add(delay)
		}
	}
}

// succeeded forgets a user's failures; the IP's stay (many users may share it).
func (g *loginGuard) succeeded(username string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if r, ok := g.byKey.Get("user:" + strings.ToLower(username)); ok {
		r.failures, r.blockedUntil = 0, time.Time{}
	}
}

// semaphore bounds work in flight; nil means no bound.
type semaphore struct {
	slots   chan struct{}
	waiters atomic.Int32
}

func newSemaphore(n int) *semaphore {
	if n <= 0 {
		return nil
	}
	return &semaphore{slots: make(chan struct{}, n)}
}

// acquire waits for a slot until ctx ends; release gives it back.
func (s *semaphore) acquire(ctx context.Context) error {
	if s == nil {
		return nil
	}
	select {
	case s.slots <- struct{}{}:
		return nil
	default:
	}
	s.waiters.Add(1)
	defer s.waiters.Add(-1)
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *semaphore) release() {
	if s != nil {
		<-s.slots
	}
}

func (s *semaphore) waiting() int { return int(s.waiters.Load()) }

// guardedAuthenticator puts the loginGuard in front of a domain's Authenticator.
type guardedAuthenticator struct {
	inner    saslauth.Authenticator
	guard    *loginGuard
	observer Observer
}

type remoteIPKey struct{}

func withRemoteIP(ctx context.Context, addr net.Addr) context.Context {
	var ip netip.Addr
	if ta, ok := addr.(*net.TCPAddr); ok {
		ip, _ = netip.AddrFromSlice(ta.IP)
		ip = ip.Unmap()
	}
	return context.WithValue(ctx, remoteIPKey{}, ip)
}

func remoteIP(ctx context.Context) netip.Addr {
	ip, _ := ctx.Value(remoteIPKey{}).(netip.Addr)
	return ip
}

func (a guardedAuthenticator) check(ctx context.Context, username string, do func() (saslauth.Identity, error)) (saslauth.Identity, error) {
	keys := a.guard.keysFor(remoteIP(ctx), username)
	if err := a.guard.begin(keys); err != nil {
		a.observer.Refused("failed_logins")
		return saslauth.Identity{}, fmt.Errorf("%w: %w", saslauth.ErrTemporary, err)
	}
	id, err := do()
	a.guard.end(keys, errors.Is(err, saslauth.ErrInvalidCredentials))
	if err == nil && username != "" {
		a.guard.succeeded(username)
		if id.Username != "" && !strings.EqualFold(id.Username, username) {
			a.guard.succeeded(id.Username)
		}
	}
	return id, err
}

func (a guardedAuthenticator) CheckPassword(ctx context.Context, username, password string) (saslauth.Identity, error) {
	return a.check(ctx, username, func() (saslauth.Identity, error) {
		if err := a.guard.grants.acquire(ctx); err != nil {
			a.observer.Refused("password_grants")
			return saslauth.Identity{}, fmt.Errorf("%w: %w", saslauth.ErrTemporary, errGrantsBusy)
		}
		defer a.guard.grants.release()
		return a.inner.CheckPassword(ctx, username, password)
	})
}

func (a guardedAuthenticator) CheckToken(ctx context.Context, token string) (saslauth.Identity, error) {
	return a.check(ctx, "", func() (saslauth.Identity, error) {
		return a.inner.CheckToken(ctx, token)
	})
}
