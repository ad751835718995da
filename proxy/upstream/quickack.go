package upstream

import (
	"errors"
	"net"
	"sync/atomic"
	"syscall"
)

// quickAckConn sets TCP_QUICKACK before every read. Stock Prosody leaves Nagle's
// algorithm on: when it writes twice in a row (stream header, then features; a TLS
// record, then a session ticket) the second write waits for our ACK of the first,
// and Linux delays that ACK by up to 40 ms. TCP_QUICKACK is not sticky (the kernel
// drops back to delayed ACKs on its own), hence once per read. It sits under TLS,
// so it keeps working for the relay after the handoff, where the restarted stream's
// header and features meet the same stall.
type quickAckConn struct {
	net.Conn
	raw syscall.RawConn
	on  atomic.Bool
}

// SyscallConn lets the relay wait for readability on the socket underneath.
func (q *quickAckConn) SyscallConn() (syscall.RawConn, error) { return q.raw, nil }

// withQuickAck wraps c if it is a TCP connection and enable is true.
func withQuickAck(c net.Conn, enable bool) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok || !enable || !quickAckSupported {
		return c
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	q := &quickAckConn{Conn: c, raw: raw}
	q.on.Store(true)
	return q
}

func (q *quickAckConn) Read(p []byte) (int, error) {
	if q.on.Load() {
		if err := q.raw.Control(setQuickAck); err != nil {
			q.on.Store(false) // the socket is closed; Read reports that
		}
	}
	return q.Conn.Read(p)
}

// CloseWrite half-closes the TCP connection, as *net.TCPConn would (plaintext mode).
func (q *quickAckConn) CloseWrite() error {
	if cw, ok := q.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("upstream: connection cannot half-close")
}
