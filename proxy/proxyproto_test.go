package proxy

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
)

// bytesConn is a net.Conn that reads from a buffer and records how much was read.
type bytesConn struct {
	net.Conn
	r *bytes.Reader
}

func (b *bytesConn) Read(p []byte) (int, error)      { return b.r.Read(p) }
func (b *bytesConn) SetReadDeadline(time.Time) error { return nil }
func (b *bytesConn) RemoteAddr() net.Addr            { return &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 1} }
func newBytesConn(data []byte) *bytesConn            { return &bytesConn{r: bytes.NewReader(data)} }
func (b *bytesConn) unread() int                     { return b.r.Len() }

func TestReadProxyHeaderStopsAtItsEnd(t *testing.T) {
	src := &net.TCPAddr{IP: net.IPv4(203, 0, 113, 7), Port: 40000}
	dst := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 5222}
	const after = "<?xml version='1.0'?>"
	for _, version := range []byte{1, 2} {
		var buf bytes.Buffer
		if _, err := proxyproto.HeaderProxyFromAddrs(version, src, dst).WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		buf.WriteString(after)
		c := newBytesConn(buf.Bytes())
		got, err := readProxyHeader(c, time.Second)
		if err != nil {
			t.Fatalf("v%d: %v", version, err)
		}
		if got.String() != src.String() {
			t.Errorf("v%d: source %s, want %s", version, got, src)
		}
		if c.unread() != len(after) {
			t.Errorf("v%d: read %d bytes past the header", version, len(after)-c.unread())
		}
	}
}

func TestReadProxyHeaderRejects(t *testing.T) {
	for name, data := range map[string]string{
		"no header":    "<?xml version='1.0'?><stream:stream>",
		"v1 too long":  "PROXY TCP4 " + strings.Repeat("1", 200) + "\r\n",
		"v1 garbage":   "PROXY NONSENSE\r\n",
		"v2 truncated": string(v2Signature) + "\x21\x11\x00\x0c\x01",
		"v2 oversize":  string(v2Signature) + "\x21\x11\xff\xff",
		"empty":        "",
	} {
		if _, err := readProxyHeader(newBytesConn([]byte(data)), time.Second); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestReadProxyHeaderLocalCommand(t *testing.T) {
	var buf bytes.Buffer
	h := &proxyproto.Header{Version: 2, Command: proxyproto.LOCAL, TransportProtocol: proxyproto.UNSPEC}
	if _, err := h.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := readProxyHeader(newBytesConn(buf.Bytes()), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != "10.0.0.1:1" {
		t.Errorf("LOCAL header: %s, want the balancer's own address", got)
	}
}

func FuzzProxyHeader(f *testing.F) {
	f.Add([]byte("PROXY TCP4 203.0.113.7 192.0.2.1 40000 5222\r\n<x/>"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(append(append([]byte{}, v2Signature...), 0x21, 0x11, 0x00, 0x0c, 203, 0, 113, 7, 192, 0, 2, 1, 0x9c, 0x40, 0x14, 0x66))
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := newBytesConn(data)
		addr, err := readProxyHeader(c, time.Second)
		if err == nil && addr == nil {
			t.Fatal("no error and no address")
		}
		if consumed := len(data) - c.unread(); consumed > len(v2Signature)+4+maxV2Body {
			t.Fatalf("consumed %d bytes", consumed)
		}
	})
}

// The upstream login is told the client's address (for an optional PROXY header
// upstream), the one behind a PROXY-protocol balancer when there is one.
func TestUpstreamLoginKnowsClientAddress(t *testing.T) {
	e := newEnv(t, nil)
	c := e.login()
	e.up.mu.Lock()
	defer e.up.mu.Unlock()
	if len(e.up.froms) != 1 || e.up.froms[0] == nil || e.up.froms[0].String() != c.conn.LocalAddr().String() {
		t.Fatalf("upstream login was told %v, want the client's %v", e.up.froms, c.conn.LocalAddr())
	}
}
