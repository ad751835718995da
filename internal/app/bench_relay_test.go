package app_test

import (
	"net"
	"sync"
	"testing"
	"time"
)

// delayRelay listens on loopback and forwards every connection to target,
// holding each chunk back by delay in each direction: a mobile-like link where
// round trips show. It returns the address to dial.
func delayRelay(b *testing.B, target string, delay time.Duration) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			var once sync.Once
			closeBoth := func() { once.Do(func() { c.Close(); u.Close() }) }
			go delayed(u, c, delay, closeBoth)
			go delayed(c, u, delay, closeBoth)
		}
	}()
	return ln.Addr().String()
}

// delayed copies src to dst, each chunk delay after it was read, in order.
func delayed(dst, src net.Conn, delay time.Duration, done func()) {
	type chunk struct {
		at time.Time
		p  []byte
	}
	ch := make(chan chunk, 4096)
	go func() {
		defer done()
		for c := range ch {
			time.Sleep(time.Until(c.at))
			if _, err := dst.Write(c.p); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			ch <- chunk{time.Now().Add(delay), append([]byte(nil), buf[:n]...)}
		}
		if err != nil {
			close(ch)
			return
		}
	}
}

// rttConn counts the client's round trips: each read that follows a write
// waits for the peer's answer to it. Under TLS this counts the handshake too.
type rttConn struct {
	net.Conn
	wrote bool
	trips int
}

func (c *rttConn) Write(p []byte) (int, error) {
	c.wrote = true
	return c.Conn.Write(p)
}

func (c *rttConn) Read(p []byte) (int, error) {
	if c.wrote {
		c.trips++
		c.wrote = false
	}
	return c.Conn.Read(p)
}
