package upstream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// goodbyeTimeout bounds the closing tag sent on an unused pre-connected stream.
const goodbyeTimeout = time.Second

// Preconn is an upstream connection opened before the user is known: dialled,
// TLS negotiated and the stream's features read while the client is still in
// its own TLS handshake and SASL exchange, so that the login after the client's
// SASL starts with the upstream's mechanisms in hand. Login takes it (see
// WithPreconn); Close drops it if it was not taken. Nothing is sent on it
// before it is taken but the stream header (and STARTTLS), which names no user.
type Preconn struct {
	done   chan struct{} // closed when the connect attempt has ended
	cancel context.CancelFunc

	mu     sync.Mutex
	ended  bool // the attempt has ended; w, f and err are set
	closed bool // taken by a login or dropped; nobody else may use w
	w      *wire
	f      *features
	err    error
}

// Preconnect starts opening an upstream connection in the background and
// returns at once; nil when Config.Preconnect is off. The connection lives no
// longer than ctx (the client connection's pre-auth context): when ctx ends
// before a login takes it, it is closed. Negotiating it takes at most
// LoginTimeout. ctx should carry WithClientAddr when the PROXY header is sent.
func (d *Dialer) Preconnect(ctx context.Context) *Preconn {
	if !d.cfg.Preconnect {
		return nil
	}
	p := &Preconn{done: make(chan struct{})}
	nctx, cancel := context.WithTimeout(ctx, d.cfg.LoginTimeout)
	p.cancel = cancel
	stop := context.AfterFunc(ctx, p.Close)
	go func() {
		w, f, err := d.connect(nctx)
		// From here the connection's deadline and cancel hook follow ctx
		// (the client's), not the negotiation's timeout.
		if err == nil && !w.rearm(ctx) {
			w.close()
			w, f, err = nil, nil, fmt.Errorf("%w: pre-connect cancelled", ErrUnavailable)
		}
		cancel()
		p.mu.Lock()
		p.w, p.f, p.err, p.ended = w, f, err, true
		dropped := p.closed
		p.mu.Unlock()
		close(p.done)
		if dropped && w != nil {
			w.goodbye()
		}
		if err != nil {
			stop()
			d.log.Debug().Err(err).Msg("upstream pre-connect failed; the login will dial")
		}
	}()
	return p
}

// Close drops the connection unless a login took it: the upstream gets its
// stream's closing tag. Safe to call more than once, and concurrently.
func (p *Preconn) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	w := p.w
	p.mu.Unlock()
	p.cancel() // ends an attempt still under way; it then closes its own connection
	if w != nil {
		w.goodbye()
	}
}

// take waits for the attempt and hands its connection to the login under ctx;
// false when there is none to take (failed, dropped, already taken, or ctx ended).
func (p *Preconn) take(ctx context.Context) (*wire, *features, bool) {
	select {
	case <-p.done:
	case <-ctx.Done():
		p.Close()
		return nil, nil, false
	}
	p.mu.Lock()
	if p.closed || p.w == nil {
		p.mu.Unlock()
		return nil, nil, false
	}
	p.closed = true
	w, f := p.w, p.f
	p.mu.Unlock()
	if !w.rearm(ctx) {
		w.close() // the client's context ended meanwhile
		return nil, nil, false
	}
	return w, f, true
}

// Ready reports whether the connection is open and waiting for a login (tests).
func (p *Preconn) Ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ended && !p.closed && p.w != nil
}

// Done is closed once the connect attempt has ended, used or not (tests).
func (p *Preconn) Done() <-chan struct{} { return p.done }

type preconnKey struct{}

// WithPreconn has the next Login under ctx take p's connection instead of
// dialling, when p has one ready; otherwise Login dials as usual.
func WithPreconn(ctx context.Context, p *Preconn) context.Context {
	if p == nil {
		return ctx
	}
	return context.WithValue(ctx, preconnKey{}, p)
}

// open takes the pre-connected connection ctx carries, if there is one ready,
// else connects. pre says which, for the caller's retry on a stale connection.
func (d *Dialer) open(ctx context.Context) (w *wire, f *features, pre bool, err error) {
	if p, _ := ctx.Value(preconnKey{}).(*Preconn); p != nil {
		if w, f, ok := p.take(ctx); ok {
			return w, f, true, nil
		}
	}
	w, f, err = d.connect(ctx)
	return w, f, false, err
}

// staleConn: a login on a pre-connected connection failed without the upstream
// answering a SASL <failure/>: the connection may have gone stale while it
// waited (closed by the upstream, reset), so a fresh dial is worth one try.
func staleConn(err error) bool {
	var f *saslFailure
	return errors.Is(err, ErrUnavailable) && !errors.As(err, &f)
}

// rearm moves w's deadline and cancel hook to ctx; false if the old hook has
// already fired (its context ended), in which case w is unusable.
func (w *wire) rearm(ctx context.Context) bool {
	if !w.stop() {
		return false
	}
	dl, _ := ctx.Deadline() // zero: none
	_ = w.conn.SetDeadline(dl)
	w.stop = context.AfterFunc(ctx, func() { _ = w.conn.SetDeadline(time.Unix(1, 0)) })
	return true
}

// goodbye closes an unused stream politely: its closing tag, then the socket.
func (w *wire) goodbye() {
	if w.stop() {
		_ = w.conn.SetWriteDeadline(time.Now().Add(goodbyeTimeout))
		_ = w.write("</stream:stream>")
	}
	_ = w.conn.Close()
}
