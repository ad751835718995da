package proxy

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxForwardedHops bounds the addresses read from forwarding headers.
const maxForwardedHops = 16

// forwardedClient returns the client's address for a request that came from
// peer: the peer itself, unless it is a trusted reverse proxy; then the nearest
// address in Forwarded (RFC 7239) or X-Forwarded-For that is not a trusted
// proxy (the ones further left are the client's word, not a proxy's).
func forwardedClient(r *http.Request, peer netip.AddrPort, trusted []netip.Prefix) netip.AddrPort {
	if !inPrefixes(peer.Addr(), trusted) {
		return peer
	}
	hops := forwardedFor(r.Header.Values("Forwarded"))
	if len(hops) == 0 {
		hops = xForwardedFor(r.Header.Values("X-Forwarded-For"))
	}
	for i := len(hops) - 1; i >= 0 && i >= len(hops)-maxForwardedHops; i-- {
		switch {
		case !hops[i].IsValid():
			return peer // "unknown" or obfuscated: the limits hold the proxy's address instead
		case !inPrefixes(hops[i], trusted):
			return netip.AddrPortFrom(hops[i], 0)
		}
	}
	return peer
}

func xForwardedFor(values []string) []netip.Addr {
	var out []netip.Addr
	for _, v := range values {
		for _, f := range strings.Split(v, ",") {
			out = append(out, parseHop(strings.TrimSpace(f)))
		}
	}
	return out
}

// forwardedFor takes the for= parameters of Forwarded headers, in order.
func forwardedFor(values []string) []netip.Addr {
	var out []netip.Addr
	for _, v := range values {
		for _, elem := range strings.Split(v, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					out = append(out, parseHop(strings.Trim(val, `"`)))
				}
			}
		}
	}
	return out
}

// parseHop reads "1.2.3.4", "1.2.3.4:5", "[::1]:5" or "::1"; anything else
// (obfuscated identifiers, "unknown") is the invalid address.
func parseHop(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if a.IsValid() && p.Contains(a) {
			return true
		}
	}
	return false
}

// tcpAddr turns ap into the *net.TCPAddr the rest of the package expects.
func tcpAddr(ap netip.AddrPort) net.Addr { return net.TCPAddrFromAddrPort(ap) }
