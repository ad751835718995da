package proxy

import (
	"bytes"
	"net"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// lingerTimeout is how long one direction may go on after the other ended, so that
// a closing handshake (</stream:stream> both ways) can finish.
const lingerTimeout = 5 * time.Second

// relay moves bytes between a client and its upstream session, unparsed.
type relay struct {
	c            *conn
	client, up   net.Conn
	writeTimeout time.Duration
	shutdown     atomic.Bool
	revoked      atomic.Pointer[string] // why the credential was revoked; ends the session
	left         atomic.Int32           // directions still running; the last one closes both conns
	start        time.Time
	user         string
	liveKeys     []string     // where s.live indexes this session
	auth         *sessionAuth // for the SessionChecker; nil: not watched

	// Owned by one direction each until it finishes.
	fromClient, fromUp reader
	clientTail, upTail tail
	bytesUp, bytesDown int64

	toUp, toClient direction
}

// handoff sends <success/>, forwards the client's bytes read past its last SASL
// element (the start of its restarted stream) to the upstream, and starts the relay.
// It reports whether the relay took the connection over (and its goroutine count).
func (c *conn) handoff(l *loginResult) bool {
	up := l.session.Conn
	c.mu.Lock()
	if c.shutdown {
		c.mu.Unlock()
		_ = up.SetWriteDeadline(time.Now().Add(finalWriteTimeout))
		_, _ = up.Write([]byte(streamClose))
		up.Close()
		c.end(&streamErr{cond: condSystemShutdown})
		return false
	}
	// Under c.mu, so that a Shutdown's deadline cannot be lost between the phases.
	_ = c.raw.SetDeadline(time.Time{})
	_ = up.SetDeadline(time.Time{})
	r := &relay{
		c: c, client: c.nc, up: up,
		writeTimeout: c.s.cfg.WriteTimeout,
		start:        time.Now(),
	}
	r.fromClient.init(c.nc)
	r.fromUp.init(up)
	r.toUp = direction{r: r, src: &r.fromClient, dst: up, tail: &r.clientTail, end: r.endClientToUpstream}
	r.toClient = direction{r: r, src: &r.fromUp, dst: c.nc, tail: &r.upTail, end: r.endUpstreamToClient}
	c.relay = r
	c.state = stateRelay
	if w, ok := c.raw.(*wsConn); ok {
		w.authenticated(c.wsMaxStanza)
	}
	c.cancel() // the pre-auth context and its timer are no longer needed
	c.ctx, c.cancel = nil, func() {}
	c.mu.Unlock()
	c.s.leavePreAuth(c)

	r.user = l.result.Username
	r.liveKeys = SessionRef{CredentialID: l.result.CredentialID, GrantID: l.result.GrantID}.keys()
	if c.s.cfg.SessionChecker != nil && c.s.cfg.SessionRecheck > 0 && needsRecheck(l.result.Identity) {
		r.auth = &sessionAuth{id: watchedIdentity(l.result.Identity), lastChecked: time.Now()}
		r.liveKeys = append(r.liveKeys, recheckKey)
	}
	why, revoked := c.s.live.add(r, r.liveKeys)
	c.log.Info().Str("mechanism", l.result.Mechanism).Str("user", r.user).Msg("logged in")
	if revoked {
		c.log.Info().Str("user", r.user).Str("why", why).Msg("session ended: its credential was revoked while it logged in")
	}
	// A logger with context costs half a KiB; an idle session should not keep one.
	c.log = zerolog.Nop()

	toClient := l.clientPrefix
	if toClient == nil {
		toClient = saslSuccess(l.successData)
	}
	toClient = append(toClient, l.session.Buffered...)
	pending, _ := c.br.Peek(c.br.Buffered()) // never fails for Buffered() bytes
	// The newline a client sends after </auth> belonged to the old stream; before
	// the restart header's XML declaration it would be not-well-formed upstream.
	pending = bytes.TrimLeft(pending, xmlSpace)
	clientStarted := len(pending) > 0
	c.br, c.sr = nil, nil
	r.left.Store(2)
	// Each direction counts in wg from here until it ends, parked or not:
	// toClient's is new, toUp inherits this goroutine's.
	c.s.wg.Add(1)
	if err := r.write(r.client, toClient); err != nil {
		r.toUp.cutAt(time.Now()) // the client direction ends at once
	} else if err := r.write(r.up, pending); err != nil {
		r.toClient.cutAt(time.Now())
	}
	r.upTail.add(l.session.Buffered)
	r.clientTail.add(pending)
	r.toUp.trimLeadingSpace = !clientStarted
	go r.toClient.run()
	go r.toUp.run()
	if revoked && r.revoke(why) {
		c.s.cfg.Observer.Revoked(1)
	}
	return true
}

const xmlSpace = " \t\r\n"

// endClientToUpstream runs when the client direction has ended (the copy loop is
// in relaydir.go). When the client closes its stream the upstream gets the
// half-close; when the client's connection is lost, so is the upstream's.
func (r *relay) endClientToUpstream(werr error) {
	r.bytesUp = r.toUp.n
	if werr != nil {
		// The upstream takes no more; the other direction reports it to the client.
		r.toClient.cutAt(time.Now())
		return
	}
	if !r.clientTail.closesStream() && !r.ending() {
		// The client's connection was lost, not its stream closed: the upstream must
		// see the same, so that it keeps a stream-management session to resume
		// (XEP-0198) instead of ending it as a clean </stream:stream> would.
		r.toClient.cutAt(time.Now())
		return
	}
	if !r.clientTail.closesStream() {
		_ = r.write(r.up, []byte(streamClose)) // we are shutting down: end it cleanly
	}
	closeWrite(r.up)
	r.toClient.cutAt(r.lingerDeadline())
}

// endUpstreamToClient runs when the upstream direction has ended. When the
// upstream is gone without closing its stream, the client learns it from a stream
// error.
func (r *relay) endUpstreamToClient(werr error) {
	r.bytesDown = r.toClient.n
	if werr != nil {
		r.toUp.cutAt(time.Now())
		return
	}
	if !r.upTail.closesStream() {
		cond, text := condRemoteConnectionFailed, ""
		if why := r.revoked.Load(); why != nil {
			cond, text = condNotAuthorized, *why
		} else if r.shutdown.Load() {
			cond = condSystemShutdown
		}
		_ = r.write(r.client, streamError(cond, text))
	}
	closeWrite(r.client)
	r.toUp.cutAt(r.lingerDeadline())
}

// write sends p with a deadline, so a peer that stops reading cannot pin us.
func (r *relay) write(dst net.Conn, p []byte) error {
	if len(p) == 0 {
		return nil
	}
	timeout := r.writeTimeout
	if r.shutdown.Load() {
		timeout = finalWriteTimeout
	}
	_ = dst.SetWriteDeadline(time.Now().Add(timeout))
	_, err := dst.Write(p)
	return err
}

func (r *relay) lingerDeadline() time.Time {
	if r.ending() {
		return time.Now()
	}
	return time.Now().Add(lingerTimeout)
}

// finish runs as each direction ends; the second closes both connections.
func (r *relay) finish() {
	if r.left.Add(-1) > 0 {
		return
	}
	r.client.Close()
	r.up.Close()
	r.c.s.live.remove(r, r.liveKeys)
	r.c.s.forget(r.c)
	r.c.s.cfg.Observer.Relayed(r.bytesUp, r.bytesDown)
	r.c.s.log.Info().Str("conn", r.c.id).Str("domain", r.c.domain.Name).Str("user", r.user).
		Int64("bytes_up", r.bytesUp).Int64("bytes_down", r.bytesDown).
		Dur("duration", time.Since(r.start)).Msg("session ended")
}

// revoke ends the session because its credential was revoked: the client gets
// not-authorized with why, the upstream our closing tag (a clean end, so no
// stream-management session stays to be resumed with a dead credential).
// It reports false when the session was already ending that way.
func (r *relay) revoke(why string) bool {
	if !r.revoked.CompareAndSwap(nil, &why) {
		return false
	}
	now := time.Now()
	r.toClient.cutAt(now)
	r.toUp.cutAt(now)
	return true
}

// ending: the proxy itself ends this session (shutdown or revocation).
func (r *relay) ending() bool { return r.shutdown.Load() || r.revoked.Load() != nil }

// shutdownNow ends the session with system-shutdown: both reads fail at once, the
// client gets the stream error and the upstream our closing tag.
func (r *relay) shutdownNow() {
	r.shutdown.Store(true)
	now := time.Now()
	r.toClient.cutAt(now)
	r.toUp.cutAt(now)
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// tail keeps the last bytes one direction sent, to tell whether it closed its stream.
type tail struct {
	b [32]byte
	n int
}

func (t *tail) add(p []byte) {
	if len(p) >= len(t.b) {
		t.n = copy(t.b[:], p[len(p)-len(t.b):])
		return
	}
	keep := min(t.n, len(t.b)-len(p))
	copy(t.b[:], t.b[t.n-keep:t.n])
	t.n = keep + copy(t.b[keep:], p)
}

// closesStream reports whether the bytes end with a stream's closing tag,
// </stream:stream> under any prefix.
func (t *tail) closesStream() bool {
	s := bytes.TrimRight(t.b[:t.n], " \t\r\n")
	s, ok := bytes.CutSuffix(s, []byte(">"))
	if !ok {
		return false
	}
	s = bytes.TrimRight(s, " \t\r\n")
	i := bytes.LastIndex(s, []byte("</"))
	if i < 0 {
		return false
	}
	name := s[i+2:]
	if bytes.Equal(name, []byte("stream")) {
		return true
	}
	prefix, ok := bytes.CutSuffix(name, []byte(":stream"))
	return ok && len(prefix) > 0 && !bytes.ContainsAny(prefix, " \t\r\n<>/:")
}
