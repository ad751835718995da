package proxy

import (
	"crypto/tls"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/tlsrecord"
	"net"
	"sync"
	"syscall"
)

const (
	// smallReadSize is what an idle read from a TLS conn keeps parked.
	smallReadSize = 512
	// bigReadSize holds a whole TLS record's plaintext (2^14 bytes).
	bigReadSize = 16 << 10
)

// bufPool lends the big buffers; they are held only while data is there to move.
var bufPool = sync.Pool{New: func() any { b := make([]byte, bigReadSize); return &b }}

// reader reads one relay direction and keeps as little memory parked as it can
// while the peer is idle. When the source holds no bytes in user space (a
// socket always; a *tls.Conn over a tlsrecord.Conn after a read that did
// not fill its buffer) it first waits for the socket to become readable and only then
// takes a pooled buffer. Otherwise (a *tls.Conn from elsewhere, which may hold
// records it read ahead) it reads into a small buffer, and after a read that filled
// its buffer, into a pooled one.
type reader struct {
	src     net.Conn
	raw     syscall.RawConn // the socket under src, when waiting on it is sound
	plain   bool            // src is the socket itself: never anything buffered
	drained bool            // src holds nothing unread in user space
	big     bool            // the last read filled its buffer
	small   []byte
}

func (rd *reader) init(src net.Conn) {
	rd.src = src
	if !canWaitReadable {
		return
	}
	switch s := src.(type) {
	case syscall.Conn:
		// A socket, or one of our thin wrappers of one (PROXY protocol, TCP_QUICKACK),
		// none of which holds bytes in user space.
		rd.raw, _ = s.SyscallConn()
		rd.plain, rd.drained = rd.raw != nil, rd.raw != nil
	case *tls.Conn:
		if rc, ok := s.NetConn().(*tlsrecord.Conn); ok {
			if tc, ok := rc.Conn.(syscall.Conn); ok { // *net.TCPConn, or a PROXY-protocol conn over one
				// Not drained yet: the pre-auth reader may have left decrypted bytes.
				rd.raw, _ = tc.SyscallConn()
			}
		}
	}
}

// mustWait reports whether the caller should wait for rd.raw to become readable
// before next: on Linux by parking the direction on the reactor (no goroutine
// left), elsewhere with waitReadable, left to the caller's loop so that the idle
// goroutine parks with as few frames as possible.
func (rd *reader) mustWait() bool { return rd.raw != nil && rd.drained }

// next reads one chunk and hands it to write. rerr is the read's error (io.EOF at
// the end), werr the write's.
func (rd *reader) next(write func([]byte) error) (rerr, werr error) {
	var buf []byte
	switch {
	case rd.raw != nil && rd.drained, rd.big: // after mustWait: data is there
		bp := bufPool.Get().(*[]byte)
		defer bufPool.Put(bp)
		buf = *bp
	default:
		if rd.small == nil {
			rd.small = make([]byte, smallReadSize)
		}
		buf = rd.small
	}
	n, rerr := rd.src.Read(buf)
	rd.big = n == len(buf)
	rd.drained = rd.plain || !rd.big
	if rd.raw != nil && rd.drained {
		rd.small = nil // from now on the socket's readiness comes first
	}
	if n > 0 {
		werr = write(buf[:n])
	}
	return rerr, werr
}
