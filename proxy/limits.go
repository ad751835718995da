package proxy

import (
	"net/netip"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// Limits protect the proxy and the IdP behind it. Zero values mean the defaults;
// a negative value switches a limit off.
type Limits struct {
	// MaxConnections bounds open client connections; more get resource-constraint.
	// Default 10000.
	MaxConnections int
	// MaxPreAuth bounds the connections not yet past <success/> (resource-constraint
	// beyond), MaxPreAuthPerClient those of one client (policy-violation beyond), so
	// that slow or idle handshakes cannot fill MaxConnections. Defaults 1000, 32.
	MaxPreAuth          int
	MaxPreAuthPerClient int
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
	// MaxConcurrentPasswordGrants bounds the password checks at the IdP at once, over
	// all clients; more wait for a slot. Default 100.
	MaxConcurrentPasswordGrants int
	// IPv6PrefixBits is how much of an IPv6 address names one client in every
	// per-client limit: one host usually holds a whole /64. Default 64; 1 to 128.
	IPv6PrefixBits int
}

func (l *Limits) setDefaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.MaxConnections, 10000)
	def(&l.MaxPreAuth, 1000)
	def(&l.MaxPreAuthPerClient, 32)
	def(&l.ConnectionBurst, 30)
	def(&l.FreeFailures, 5)
	def(&l.MaxConcurrentPasswordGrants, 100)
	def(&l.IPv6PrefixBits, 64)
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

// clientKey is the client an address stands for in per-client limits: an IPv4
// address, or the IPv6 prefix of v6Bits around it.
func clientKey(ip netip.Addr, v6Bits int) netip.Prefix {
	bits := ip.BitLen()
	if ip.Is6() {
		bits = min(v6Bits, bits)
	}
	p, _ := ip.Prefix(bits) // bits within range: no error
	return p
}

// connRates is the per-client token bucket of new connections.
type connRates struct {
	limits  *Limits
	mu      sync.Mutex
	buckets *lru.Cache[netip.Prefix, *rate.Limiter]
}

func newConnRates(l *Limits) *connRates {
	buckets, _ := lru.New[netip.Prefix, *rate.Limiter](trackedKeys) // size > 0: no error
	return &connRates{limits: l, buckets: buckets}
}

func (r *connRates) allow(ip netip.Addr) bool {
	if r.limits.ConnectionRate < 0 || !ip.IsValid() {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	key := clientKey(ip, r.limits.IPv6PrefixBits)
	lim, ok := r.buckets.Get(key)
	if !ok {
		lim = rate.NewLimiter(rate.Limit(r.limits.ConnectionRate), max(r.limits.ConnectionBurst, 1))
		r.buckets.Add(key, lim)
	}
	return lim.Allow()
}
