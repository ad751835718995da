package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// Limits protect the proxy and the IdP behind it. Zero values mean the defaults;
// a negative value switches a limit off.
type Limits struct {
	// MaxConnections bounds open client connections; more get resource-constraint.
	// Default 10000.
	MaxConnections int
	// ConnectionRate and ConnectionBurst bound new connections per client IP
	// (token bucket); more get policy-violation. Defaults 10/s, burst 30.
	ConnectionRate  float64
	ConnectionBurst int
	// FreeFailures failed logins per IP or per username go unpunished; after that
	// each failure blocks further attempts for FailureDelay, doubling up to
	// MaxFailureDelay. Blocked attempts never reach the IdP: they get
	// temporary-auth-failure. Defaults 5, 1s, 5m.
	FreeFailures    int
	FailureDelay    time.Duration
	MaxFailureDelay time.Duration
}

func (l *Limits) setDefaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.MaxConnections, 10000)
	def(&l.ConnectionBurst, 30)
	def(&l.FreeFailures, 5)
	if l.ConnectionRate == 0 {
		l.ConnectionRate = 10
	}
	if l.FailureDelay == 0 {
		l.FailureDelay = time.Second
	}
	if l.MaxFailureDelay == 0 {
		l.MaxFailureDelay = 5 * time.Minute
	}
}

// trackedKeys bounds the per-IP and per-user state (least recently used go first);
// entries idle for idleTTL count as fresh. Plain LRUs: expirable ones run a
// goroutine each that never stops.
const (
	trackedKeys = 100_000
	idleTTL     = 15 * time.Minute
)

// connRates is the per-IP token bucket of new connections.
type connRates struct {
	limits  *Limits
	mu      sync.Mutex
	buckets *lru.Cache[netip.Addr, *rate.Limiter]
}

func newConnRates(l *Limits) *connRates {
	buckets, _ := lru.New[netip.Addr, *rate.Limiter](trackedKeys) // size > 0: no error
	return &connRates{limits: l, buckets: buckets}
}

func (r *connRates) allow(ip netip.Addr) bool {
	if r.limits.ConnectionRate < 0 || !ip.IsValid() {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	lim, ok := r.buckets.Get(ip)
	if !ok {
		lim = rate.NewLimiter(rate.Limit(r.limits.ConnectionRate), max(r.limits.ConnectionBurst, 1))
		r.buckets.Add(ip, lim)
	}
	return lim.Allow()
}

// failureRecord is one key's recent failed logins.
type failureRecord struct {
	failures     int
	blockedUntil time.Time
	lastFailure  time.Time
}

// loginGuard counts failed logins per IP and per username and blocks, with a
// growing delay, those that keep failing, so password guessing cannot hammer the IdP.
type loginGuard struct {
	limits *Limits
	now    func() time.Time
	mu     sync.Mutex
	byKey  *lru.Cache[string, *failureRecord]
}

func newLoginGuard(l *Limits) *loginGuard {
	byKey, _ := lru.New[string, *failureRecord](trackedKeys) // size > 0: no error
	return &loginGuard{limits: l, now: time.Now, byKey: byKey}
}

// errTooManyFailures is the cause of a blocked attempt; it names no key.
var errTooManyFailures = errors.New("too many failed logins: try again later")

func keysFor(ip netip.Addr, username string) []string {
	var keys []string
	if ip.IsValid() {
		keys = append(keys, "ip:"+ip.String())
	}
	if username != "" {
		keys = append(keys, "user:"+strings.ToLower(username))
	}
	return keys
}

// blocked reports how long the attempt must still wait; 0 lets it through.
func (g *loginGuard) blocked(keys []string) time.Duration {
	if g.limits.FreeFailures < 0 {
		return 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	var wait time.Duration
	for _, k := range keys {
		if r, ok := g.byKey.Get(k); ok && r.blockedUntil.After(now) {
			wait = max(wait, r.blockedUntil.Sub(now))
		}
	}
	return wait
}

func (g *loginGuard) failed(keys []string) {
	if g.limits.FreeFailures < 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	for _, k := range keys {
		r, ok := g.byKey.Get(k)
		if !ok || now.Sub(r.lastFailure) > idleTTL && now.After(r.blockedUntil) {
			r = &failureRecord{} // quiet long enough: a fresh start
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
		g.byKey.Add(k, r)
	}
}

// succeeded forgets a user's failures; the IP's stay (many users may share it).
func (g *loginGuard) succeeded(username string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.byKey.Remove("user:" + strings.ToLower(username))
}

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
	keys := keysFor(remoteIP(ctx), username)
	if wait := a.guard.blocked(keys); wait > 0 {
		a.observer.Refused("failed_logins")
		return saslauth.Identity{}, fmt.Errorf("%w: %w (%s)", saslauth.ErrTemporary, errTooManyFailures, wait.Round(time.Second))
	}
	id, err := do()
	switch {
	case err == nil && username != "":
		a.guard.succeeded(username)
		if id.Username != "" && !strings.EqualFold(id.Username, username) {
			a.guard.succeeded(id.Username)
		}
	case errors.Is(err, saslauth.ErrInvalidCredentials):
		a.guard.failed(keys)
	}
	return id, err
}

func (a guardedAuthenticator) CheckPassword(ctx context.Context, username, password string) (saslauth.Identity, error) {
	return a.check(ctx, username, func() (saslauth.Identity, error) {
		return a.inner.CheckPassword(ctx, username, password)
	})
}

func (a guardedAuthenticator) CheckToken(ctx context.Context, token string) (saslauth.Identity, error) {
	return a.check(ctx, "", func() (saslauth.Identity, error) {
		return a.inner.CheckToken(ctx, token)
	})
}
