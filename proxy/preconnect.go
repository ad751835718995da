package proxy

import (
	"context"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/proxy/upstream"
)

// Preconnector is an Upstream that can open its connection before the user is
// known (*upstream.Dialer). The proxy then dials, negotiates TLS and reads the
// upstream's features while the client is still in its TLS handshake and SASL
// exchange, and the login after the client's SASL starts from there: the dial
// and the first round trip to the server leave the login's critical path.
type Preconnector interface {
	Upstream
	// Preconnect starts opening a connection that lives no longer than ctx;
	// nil when pre-connecting is off.
	Preconnect(ctx context.Context) *upstream.Preconn
}

// preconn is a connection's pre-connected upstream and the domain it is for.
// It lives only before the login: an idle session keeps one pointer, to done.
type preconn struct {
	p      *upstream.Preconn // nil: none (off, or dropped)
	domain *Domain
}

// preconnDone marks a connection whose pre-connect was tried and is over.
var preconnDone = &preconn{}

// preconnect starts d's upstream connection for c, at most once per client
// connection: at the Direct TLS ClientHello that names d, or else at the first
// stream header. Bare TCP connections (port scans, load-balancer probes) open
// nothing upstream. The connection holds the descriptor the session would
// hold anyway, ends with c's pre-auth context, and is dropped when the client
// fails authentication (dropPreconn).
func (c *conn) preconnect(d *Domain) {
	if c.pre != nil || d == nil {
		return
	}
	c.pre = preconnDone
	pc, ok := d.Upstream.(Preconnector)
	if !ok {
		return
	}
	if p := pc.Preconnect(upstream.WithClientAddr(c.ctx, c.raw.RemoteAddr())); p != nil {
		c.pre = &preconn{p: p, domain: d}
	}
}

// takePreconn is ctx carrying the pre-connected upstream connection for the
// login that follows, when it was opened for the stream's domain.
func (c *conn) takePreconn(ctx context.Context) context.Context {
	if c.pre == nil || c.pre.p == nil || c.pre.domain != c.domain {
		return ctx
	}
	return upstream.WithPreconn(ctx, c.pre.p)
}

// dropPreconn closes the pre-connected upstream connection unless a login has
// taken it. Later logins on c dial.
func (c *conn) dropPreconn() {
	if c.pre != nil && c.pre.p != nil {
		c.pre.p.Close()
		c.pre = preconnDone
	}
}
