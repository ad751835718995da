package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"time"
)

// streamFeatures reports whether an XMPP server on addr answers a stream
// header with <stream:features>, the sign it serves clients (not just that
// its port listens).
func streamFeatures(ctx context.Context, addr, domain string) bool {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(time.Second)
	}
	_ = conn.SetDeadline(dl)
	if _, err := fmt.Fprintf(conn, "<?xml version='1.0'?><stream:stream to='%s' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", domain); err != nil {
		return false
	}
	var buf []byte
	chunk := make([]byte, 4096)
	for len(buf) < 64<<10 {
		n, err := conn.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if bytes.Contains(buf, []byte("<stream:features")) {
			return true
		}
		if err != nil {
			return false
		}
	}
	return false
}
