package app_test

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/proxy/wsframe"
)

// wsStreamConn lets the benchmarks' TCP client speak RFC 7395: its stream bytes
// leave as one message per element (wsframe.Downstream works either way), and
// messages come back as stream bytes (wsframe.FromClient).
type wsStreamConn struct {
	ws            *websocket.Conn
	down          *wsframe.Downstream
	pending       []byte
	rdl, wdl      time.Time
	local, remote net.Addr
}

func (c *wsStreamConn) Read(p []byte) (int, error) {
	for len(c.pending) == 0 {
		ctx, cancel := deadlineCtx(c.rdl)
		_, msg, err := c.ws.Read(ctx)
		cancel()
		if err != nil {
			return 0, err
		}
		if c.pending, _, err = wsframe.FromClient(msg, 1<<20); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

func (c *wsStreamConn) Write(p []byte) (int, error) {
	err := c.down.Write(p, func(msg []byte) error {
		ctx, cancel := deadlineCtx(c.wdl)
		defer cancel()
		return c.ws.Write(ctx, websocket.MessageText, msg)
	})
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// deadlineCtx: the deadline, or the benchmarks' I/O bound when none is set.
func deadlineCtx(t time.Time) (context.Context, context.CancelFunc) {
	if t.IsZero() {
		t = time.Now().Add(benchIOTimeout)
	}
	return context.WithDeadline(context.Background(), t)
}

func (c *wsStreamConn) Close() error                       { return c.ws.CloseNow() }
func (c *wsStreamConn) LocalAddr() net.Addr                { return c.local }
func (c *wsStreamConn) RemoteAddr() net.Addr               { return c.remote }
func (c *wsStreamConn) SetDeadline(t time.Time) error      { c.rdl, c.wdl = t, t; return nil }
func (c *wsStreamConn) SetReadDeadline(t time.Time) error  { c.rdl = t; return nil }
func (c *wsStreamConn) SetWriteDeadline(t time.Time) error { c.wdl = t; return nil }

// benchWS opens a wss:// session up to the features after <open/>; it
// returns how long the TLS and WebSocket handshakes took.
func benchWS(ctx context.Context, o loginOpts) (*benchConn, time.Duration, error) {
	t0 := time.Now()
	tr := &http.Transport{TLSClientConfig: o.tls.Clone(), ForceAttemptHTTP2: false}
	ws, _, err := websocket.Dial(ctx, "wss://"+o.addr+"/xmpp-websocket", &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: tr}, Subprotocols: []string{"xmpp"},
	})
	if err != nil {
		return nil, 0, err
	}
	ws.SetReadLimit(1 << 20)
	handshake := time.Since(t0)
	deadline, _ := ctx.Deadline()
	sc := &wsStreamConn{ws: ws, down: wsframe.NewDownstream(1 << 20), rdl: deadline, wdl: deadline}
	c := newBenchConn(sc)
	if _, err := c.open(o.domain); err != nil {
		sc.Close()
		return nil, 0, err
	}
	return c, handshake, nil
}
