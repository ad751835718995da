package tlsrecord

import (
	"bytes"
	"io"
	"net"
	"testing"
)

type readerConn struct {
	net.Conn
	r io.Reader
}

func (c readerConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func record(body string) []byte {
	return append([]byte{23, 3, 3, byte(len(body) >> 8), byte(len(body))}, body...)
}

// Reads never cross a record boundary, however big the caller's buffer.
func TestReadsStopAtRecordBoundaries(t *testing.T) {
	stream := append(append(record("first"), record("")...), record("second record")...)
	c := &Conn{Conn: readerConn{r: bytes.NewReader(stream)}}
	var chunks []string
	buf := make([]byte, 1024)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			chunks = append(chunks, string(buf[:n]))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	header := func(body string) string { return string(record(body)[:headerLen]) }
	want := []string{header("first"), "first", header(""), header("second record"), "second record"}
	if len(chunks) != len(want) {
		t.Fatalf("chunks %q, want %q", chunks, want)
	}
	for i := range want {
		if chunks[i] != want[i] {
			t.Errorf("chunk %d = %q, want %q", i, chunks[i], want[i])
		}
	}
}
