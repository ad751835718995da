package tlsrecord

import (
	"encoding/binary"
	"net"
)

// headerLen is the size of a TLS record header: type, version, length.
const headerLen = 5

// Conn is the socket under the client's *tls.Conn. Each Read hands crypto/tls
// at most the rest of the current TLS record, never bytes of the next one. So once a
// tls.Conn Read returns less than its buffer, crypto/tls holds nothing unread, and
// the relay may wait for the socket to become readable before it takes a buffer.
// crypto/tls asks for exactly the header, then exactly the body, so this costs no
// extra reads in the common case of one record at a time.
type Conn struct {
	net.Conn
	hdr  [headerLen]byte
	hn   int // header bytes of the current record seen
	left int // body bytes of the current record not yet passed on
}

func (r *Conn) Read(p []byte) (int, error) {
	if r.hn < headerLen {
		p = p[:min(len(p), headerLen-r.hn)]
		n, err := r.Conn.Read(p)
		copy(r.hdr[r.hn:], p[:n])
		r.hn += n
		if r.hn == headerLen {
			r.left = int(binary.BigEndian.Uint16(r.hdr[3:]))
			if r.left == 0 {
				r.hn = 0
			}
		}
		return n, err
	}
	n, err := r.Conn.Read(p[:min(len(p), r.left)])
	r.left -= n
	if r.left == 0 {
		r.hn = 0
	}
	return n, err
}
