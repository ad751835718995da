package app_test

import (
	"net"
	"syscall"
)

// quickAckConn sets TCP_QUICKACK before every read, the cure the proxy's upstream
// dialer applies (proxy/upstream/quickack.go): with it a client straight to stock
// Prosody no longer waits for Nagle behind its own delayed ACK.
type quickAckConn struct {
	net.Conn
	raw syscall.RawConn
}

const quickAckSupported = true

func withQuickAck(c net.Conn) (net.Conn, bool) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, false
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c, false
	}
	return &quickAckConn{Conn: c, raw: raw}, true
}

func (q *quickAckConn) Read(p []byte) (int, error) {
	_ = q.raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
	return q.Conn.Read(p)
}
