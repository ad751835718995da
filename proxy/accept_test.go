package proxy

import (
	"context"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"
)

// emfileListener fails its first n Accepts with EMFILE, as a process out of file
// descriptors does, then accepts for real.
type emfileListener struct {
	net.Listener
	mu   sync.Mutex
	left int
}

func (l *emfileListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	fail := l.left > 0
	l.left--
	l.mu.Unlock()
	if fail {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// A few EMFILEs on accept must not stop either kind of listener: once descriptors
// are free again, clients get served, and Serve still returns when told to stop.
func TestAcceptSurvivesEMFILE(t *testing.T) {
	for _, proxied := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "proxy protocol"}[proxied]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil)
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var ln net.Listener = &emfileListener{Listener: inner, left: 3}
			if proxied {
				ln = ProxyProtocol{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}.Listen(ln)
			}
			ctx, cancel := context.WithCancel(context.Background())
			served := make(chan error, 1)
			go func() { served <- e.srv.Serve(ctx, ln, false) }()

			c := e.dial(inner.Addr().String())
			if proxied {
				c.send("PROXY TCP4 203.0.113.7 127.0.0.1 40000 5222\r\n")
			}
			c.send(clientHeader)
			c.expect("<starttls")

			cancel()
			if err := <-served; err != nil {
				t.Errorf("Serve returned %v, want nil after its context ended", err)
			}
		})
	}
}
