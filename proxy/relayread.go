package proxy

import (
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
// while the peer is idle:
//   - a socket without user-space buffering (*net.TCPConn on Linux) is first waited
//     on for readability, and only then given a pooled buffer;
//   - anything else (a *tls.Conn, which may hold decrypted bytes the socket no
//     longer shows) is read into a small buffer; when a read fills it, more is
//     probably waiting and the next read gets a pooled buffer.
type reader struct {
	src   net.Conn
	raw   syscall.RawConn // set: wait for readability before taking a buffer
	small []byte
	big   bool // the last read filled its buffer
}

func (rd *reader) init(src net.Conn) {
	rd.src = src
	if tc, ok := src.(*net.TCPConn); ok && canWaitReadable {
		if rc, err := tc.SyscallConn(); err == nil {
			rd.raw = rc
			return
		}
	}
	rd.small = make([]byte, smallReadSize)
}

// next reads one chunk and hands it to write. rerr is the read's error (io.EOF at
// the end), werr the write's.
func (rd *reader) next(write func([]byte) error) (rerr, werr error) {
	var buf []byte
	switch {
	case rd.raw != nil:
		if err := waitReadable(rd.raw); err != nil {
			return err, nil
		}
		fallthrough
	case rd.big:
		bp := bufPool.Get().(*[]byte)
		defer bufPool.Put(bp)
		buf = *bp
	default:
		buf = rd.small
	}
	n, rerr := rd.src.Read(buf)
	rd.big = rd.raw == nil && n == len(buf)
	if n > 0 {
		werr = write(buf[:n])
	}
	return rerr, werr
}
