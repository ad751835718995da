package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/proxy/wsframe"
)

// wsConn shows a WebSocket session (RFC 7395) to the rest of the package as the
// byte stream of a TCP client: reads yield what the client's messages stand for
// in a TCP stream (<open/> a stream header, <close/> </stream:stream>), writes
// of TCP stream bytes leave as one message per top-level element. So conn.go,
// sasl.go and the relay serve WebSocket clients unchanged.
//
// Reads run on the caller's goroutine with no context (coder/websocket closes
// the connection when a read's context ends): read deadlines go to the socket
// under it instead, so a relay "cut" ends a read and leaves the WebSocket open
// for the stream error that follows.
type wsConn struct {
	ws            *websocket.Conn
	nc            net.Conn // the hijacked connection under ws, for read deadlines
	local, remote net.Addr
	log           zerolog.Logger // only for refused input; no per-session context kept
	id            string
	limit         atomic.Int64 // bytes in one client message
	ping          time.Duration

	// Owned by the reading goroutine.
	pending []byte // translated bytes not yet read
	rerr    error  // how reading ended, for later reads
	started bool   // the client sent its first <open/>

	wmu     sync.Mutex
	down    *wsframe.Downstream
	writeDL atomic.Int64 // UnixNano of the write deadline; 0: none
	opened  bool         // an <open/> went to the client
	failed  bool         // a stream error was sent: nothing more goes out
	code    websocket.StatusCode
	pinger  *time.Timer

	closeOnce sync.Once
}

// errWSProtocol ends a session after its client broke RFC 7395; the client
// was told in a stream error.
var errWSProtocol = errors.New("websocket: client broke the framing")

func newWSConn(ws *websocket.Conn, nc net.Conn, local, remote net.Addr, preAuthLimit, maxStanza int, ping time.Duration, log zerolog.Logger, id string) *wsConn {
	w := &wsConn{
		ws: ws, nc: nc, local: local, remote: remote, log: log, id: id, ping: ping,
		down: wsframe.NewDownstream(maxStanza), code: websocket.StatusNormalClosure,
	}
	w.limit.Store(int64(preAuthLimit))
	// The library's own limit stays above ours, so that ours answers first
	// (with a stream error) and the library's never does.
	ws.SetReadLimit(int64(max(preAuthLimit, maxStanza)) + 1)
	if ping > 0 {
		w.pinger = time.AfterFunc(ping, w.keepAlive)
	}
	return w
}

// authenticated raises the message limit from the pre-auth element limit to
// the stanza limit of the relay.
func (w *wsConn) authenticated(maxStanza int) { w.limit.Store(int64(maxStanza)) }

// readMessage returns the TCP stream bytes of the next message that makes any.
func (w *wsConn) readMessage() ([]byte, error) {
	for {
		typ, r, err := w.ws.Reader(context.Background())
		if err != nil {
			if websocket.CloseStatus(err) != -1 {
				return nil, io.EOF // the client closed the WebSocket
			}
			return nil, err
		}
		limit := w.limit.Load()
		if typ != websocket.MessageText {
			return nil, w.fail(condBadFormat, "binary frames are not XMPP", websocket.StatusUnsupportedData, errors.New("binary message"))
		}
		msg, err := io.ReadAll(io.LimitReader(r, limit+1))
		if err != nil {
			return nil, err
		}
		if int64(len(msg)) > limit {
			return nil, w.fail(condPolicyViolation, "element too big", websocket.StatusMessageTooBig, errors.New("message over the limit"))
		}
		out, kind, err := wsframe.FromClient(msg, int(limit))
		switch {
		case err == nil && kind == wsframe.Element && !w.started:
			return nil, w.fail(condNotWellFormed, "open the stream first", websocket.StatusPolicyViolation, errors.New("element before <open/>"))
		case kind == wsframe.Open:
			w.started = true
		case errors.Is(err, wsframe.ErrRestricted):
			return nil, w.fail(condRestrictedXML, "", websocket.StatusPolicyViolation, err)
		case errors.Is(err, wsframe.ErrTooDeep):
			return nil, w.fail(condPolicyViolation, "element nested too deeply", websocket.StatusPolicyViolation, err)
		case err != nil:
			return nil, w.fail(condNotWellFormed, "one complete element per message", websocket.StatusPolicyViolation, err)
		}
		if len(out) > 0 {
			return out, nil
		}
		// White space only: a keepalive, nothing for the stream.
	}
}

// fail tells the client it broke the framing (a stream error, then <close/>)
// and logs why; the connection then ends.
func (w *wsConn) fail(cond, text string, code websocket.StatusCode, cause error) error {
	w.log.Info().Str("conn", w.id).Str("remote", w.remote.String()).Str("stream_error", cond).AnErr("cause", cause).Msg("websocket client refused")
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.failed {
		return errWSProtocol
	}
	var b []byte
	if !w.opened {
		b = streamHeader("", newStreamID()) // RFC 6120 4.9.1.3: answer the header first
	}
	b = append(b, streamError(cond, text)...)
	// A fresh translator: the session's own may hold half an upstream element.
	w.writeDL.Store(time.Now().Add(finalWriteTimeout).UnixNano())
	_ = w.writeLocked(wsframe.NewDownstream(len(b)+1), b)
	w.failed, w.code = true, code
	return errWSProtocol
}

// keepAlive pings the client (WebSocket ping replaces whitespace keepalives);
// a client that does not answer within the interval is cut off.
func (w *wsConn) keepAlive() {
	ctx, cancel := context.WithTimeout(context.Background(), w.ping)
	defer cancel()
	if err := w.ws.Ping(ctx); err != nil {
		_ = w.ws.CloseNow()
		return
	}
	w.wmu.Lock()
	if w.pinger != nil {
		w.pinger.Reset(w.ping)
	}
	w.wmu.Unlock()
}

func (w *wsConn) Read(p []byte) (int, error) {
	for len(w.pending) == 0 {
		if w.rerr != nil {
			return 0, w.rerr
		}
		b, err := w.readMessage()
		if err != nil {
			w.rerr = err // a message may be half read: no more reads
			return 0, err
		}
		w.pending = b
	}
	n := copy(p, w.pending)
	w.pending = w.pending[n:]
	if len(w.pending) == 0 {
		w.pending = nil
	}
	return n, nil
}

func (w *wsConn) Write(p []byte) (int, error) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.failed {
		return 0, errWSProtocol
	}
	if err := w.writeLocked(w.down, p); err != nil {
		if errors.Is(err, wsframe.ErrTooBig) {
			w.failedUpstream(condPolicyViolation, "element too big", err)
		} else if isFramingErr(err) {
			w.failedUpstream(condInternalServerError, "", err)
		}
		return 0, err
	}
	return len(p), nil
}

// failedUpstream: what the server sent cannot be framed; the client is told.
func (w *wsConn) failedUpstream(cond, text string, cause error) {
	w.log.Warn().Str("conn", w.id).Str("stream_error", cond).AnErr("cause", cause).Msg("websocket: upstream data cannot be framed")
	b := streamError(cond, text)
	w.writeDL.Store(time.Now().Add(finalWriteTimeout).UnixNano())
	_ = w.writeLocked(wsframe.NewDownstream(len(b)+1), b)
	w.failed, w.code = true, websocket.StatusPolicyViolation
}

func isFramingErr(err error) bool {
	for _, e := range []error{wsframe.ErrNotWellFormed, wsframe.ErrRestricted, wsframe.ErrText, wsframe.ErrTooDeep} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// writeLocked sends the messages p completes, each under the write deadline.
func (w *wsConn) writeLocked(d *wsframe.Downstream, p []byte) error {
	return d.Write(p, func(msg []byte) error {
		ctx, cancel := w.writeContext()
		defer cancel()
		if bytes.HasPrefix(msg, []byte("<open ")) {
			w.opened = true
		}
		return w.ws.Write(ctx, websocket.MessageText, msg)
	})
}

func (w *wsConn) writeContext() (context.Context, context.CancelFunc) {
	dl := time.Now().Add(DefaultWriteTimeout) // never unbounded
	if ns := w.writeDL.Load(); ns != 0 {
		dl = time.Unix(0, ns)
	}
	return context.WithDeadline(context.Background(), dl)
}

// Close ends the WebSocket with a close handshake, in the background: the
// library bounds it (5s) and the relay should not wait for the client.
func (w *wsConn) Close() error {
	w.wmu.Lock()
	if w.pinger != nil {
		w.pinger.Stop()
		w.pinger = nil
	}
	code := w.code
	w.wmu.Unlock()
	w.closeOnce.Do(func() { go func() { _ = w.ws.Close(code, "") }() })
	return nil
}

// CloseWrite is the relay's half-close once the upstream ended its stream (and
// the client got <close/>): a TCP client sees EOF and closes; a WebSocket
// client gets the close frame RFC 7395 section 3.6 has the server send, and
// its answer ends our read.
func (w *wsConn) CloseWrite() error { return w.Close() }

func (w *wsConn) LocalAddr() net.Addr  { return w.local }
func (w *wsConn) RemoteAddr() net.Addr { return w.remote }

func (w *wsConn) SetDeadline(t time.Time) error {
	_ = w.SetReadDeadline(t)
	return w.SetWriteDeadline(t)
}

func (w *wsConn) SetReadDeadline(t time.Time) error { return w.nc.SetReadDeadline(t) }

// SetWriteDeadline applies to writes that begin after it.
func (w *wsConn) SetWriteDeadline(t time.Time) error {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	w.writeDL.Store(ns)
	return nil
}
