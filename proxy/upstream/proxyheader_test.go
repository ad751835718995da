package upstream

import (
	"bufio"
	"context"
	"net"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
	"github.com/rs/zerolog"
)

// TestSendProxyHeader: with SendProxyHeader, a user's login starts with a PROXY v2
// header naming the user's address, and the proxy's own connections with LOCAL.
func TestSendProxyHeader(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	headers := make(chan *proxyproto.Header, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			h, err := proxyproto.Read(bufio.NewReader(c))
			if err != nil {
				h = nil
			}
			headers <- h
			c.Close() // the login then fails: only the header matters here
		}
	}()
	d, err := New(Config{
		Domain: "example.com", Address: ln.Addr().String(), TLSMode: TLSNone,
		Credentials: CredPassthrough, SendProxyHeader: true, Logger: zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	user := &net.TCPAddr{IP: net.IPv4(203, 0, 113, 7), Port: 40000}
	_, _ = d.Login(WithClientAddr(ctx, user), Credentials{Username: "juliet", Password: "pw"})
	h := <-headers
	if h == nil || h.Command != proxyproto.PROXY {
		t.Fatalf("login header: %+v", h)
	}
	if src, _, ok := h.TCPAddrs(); !ok || src.String() != user.String() {
		t.Fatalf("login header names %v, want %v", h.SourceAddr, user)
	}

	_ = d.Probe(ctx)
	if h := <-headers; h == nil || h.Command != proxyproto.LOCAL {
		t.Fatalf("probe header: %+v", h)
	}
}
