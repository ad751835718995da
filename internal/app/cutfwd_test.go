package app_test

import (
	"io"
	"net"
	"sync"
	"testing"
)

// cutter is a TCP forwarder that a test can cut (the listener closes and every
// forwarded connection is reset, as when a service dies) and restore on the
// same address. It stands in front of a real service to inject its outage.
type cutter struct {
	addr, to string
	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]bool
}

func newCutter(t testing.TB, to string) *cutter {
	t.Helper()
	c := &cutter{to: to, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.addr = ln.Addr().String()
	c.serve(ln)
	t.Cleanup(c.cut)
	return c
}

func (c *cutter) serve(ln net.Listener) {
	c.mu.Lock()
	c.ln = ln
	c.mu.Unlock()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			go c.pipe(in)
		}
	}()
}

func (c *cutter) pipe(in net.Conn) {
	out, err := net.Dial("tcp", c.to)
	if err != nil {
		in.Close()
		return
	}
	if !c.track(in, out) {
		return
	}
	go func() { _, _ = io.Copy(out, in); out.Close() }()
	_, _ = io.Copy(in, out)
	in.Close()
}

// track registers a pair unless the cutter was cut meanwhile.
func (c *cutter) track(in, out net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ln == nil {
		in.Close()
		out.Close()
		return false
	}
	c.conns[in], c.conns[out] = true, true
	return true
}

// cut stops listening and resets every forwarded connection.
func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ln != nil {
		c.ln.Close()
		c.ln = nil
	}
	for conn := range c.conns {
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset, not a polite close
		}
		conn.Close()
		delete(c.conns, conn)
	}
}

// restore listens again on the same address.
func (c *cutter) restore(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.serve(ln)
}
