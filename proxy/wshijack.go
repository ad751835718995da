package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
)

// wsBufSize is the read and write buffer a WebSocket session keeps for its life.
// net/http hands over 4 KiB of each with the hijacked connection; messages
// bigger than this pass through unbuffered, so small buffers cost only a few
// more system calls for big stanzas.
const wsBufSize = 512

// smallHijacker gives coder/websocket a hijacked connection with small
// buffers instead of net/http's, which an idle session would keep.
// It keeps the connection, whose read deadlines wsConn sets.
type smallHijacker struct {
	http.ResponseWriter
	nc net.Conn
}

func (h *smallHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.nc = nc
	if err := brw.Flush(); err != nil { // what net/http had not sent yet
		nc.Close()
		return nil, nil, err
	}
	br := bufio.NewReaderSize(nc, wsBufSize)
	if n := brw.Reader.Buffered(); n > 0 {
		// The client's first frames may have come with its request. They must sit
		// in br's buffer: coder/websocket keeps what is buffered and re-bases br
		// on the bare connection.
		b, _ := brw.Reader.Peek(n)
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(b)), nc), max(wsBufSize, n))
		if _, err := br.Peek(n); err != nil { // the first read returns all n bytes
			nc.Close()
			return nil, nil, err
		}
	}
	return nc, bufio.NewReadWriter(br, bufio.NewWriterSize(nc, wsBufSize)), nil
}
