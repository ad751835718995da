package proxy

import (
	"encoding/binary"
	"net"
)

// tlsRecordHeaderLen is the size of a TLS record header: type, version, length.
const tlsRecordHeaderLen = 5

// recordConn is the socket under the client's *tls.Conn. Each Read hands crypto/tls
// at most the rest of the current TLS record, never bytes of the next one. So once a
// tls.Conn Read returns less than its buffer, crypto/tls holds nothing unread, and
// the relay may wait for the socket to become readable before it takes a buffer.
// crypto/tls asks for exactly the header, then exactly the body, so this costs no
// extra reads in the common case of one record at a time.
type recordConn struct {
	net.Conn
	hdr  [tlsRecordHeaderLen]byte
	hn   int // header bytes of the current record seen
	left int // body bytes of the current record not yet passed on
}

func (r *recordConn) Read(p []byte) (int, error) {
	if r.hn < tlsRecordHeaderLen {
		p = p[:min(len(p), tlsRecordHeaderLen-r.hn)]
		n, err := r.Conn.Read(p)
		copy(r.hdr[r.hn:], p[:n])
		r.hn += n
		if r.hn == tlsRecordHeaderLen {
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
