package upstream

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeServerN is fakeServer for up to len(scripts) connections, one script each
// in order; further connections are dropped. accepted, if not nil, counts them.
func fakeServerN(t *testing.T, accepted *atomic.Int32, scripts ...func(c *fakeConn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = l.Close(); wg.Wait() })
	wg.Go(func() {
		for i := 0; ; i++ {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if accepted != nil {
				accepted.Add(1)
			}
			if i >= len(scripts) {
				c.Close()
				continue
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				scripts[i](&fakeConn{t: t, c: c, r: bufio.NewReader(c)})
			})
		}
	})
	return l.Addr().String()
}

// open reads the client's header and answers with ours and OAUTHBEARER.
func (f *fakeConn) open() {
	f.header()
	f.send(fakeHeader + fakeFeatures("OAUTHBEARER"))
}

func preconnDialer(t *testing.T, addr string) *Dialer {
	t.Helper()
	d := fakeDialer(t, addr, CredToken)
	d.cfg.Preconnect = true
	return d
}

func waitDone(t *testing.T, p *Preconn) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the pre-connect goroutine did not end")
	}
}

// The login logs in on the connection opened before it, sending it only what
// a fresh connection would get after the features: nothing is dialled twice.
func TestPreconnectLoginTakesIt(t *testing.T) {
	var accepted atomic.Int32
	auth := make(chan string, 1)
	addr := fakeServerN(t, &accepted, func(c *fakeConn) {
		c.open()
		auth <- c.until("</auth>")
		c.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
		c.hold()
	})
	d := preconnDialer(t, addr)
	p := d.Preconnect(t.Context())
	waitDone(t, p)
	if !p.Ready() {
		t.Fatal("pre-connection not ready after its attempt ended")
	}
	s, err := d.Login(WithPreconn(t.Context(), p), Credentials{Username: "alice", Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Conn.Close()
	if a := <-auth; !strings.HasPrefix(a, "<auth ") {
		t.Fatalf("first thing after the features = %q, want <auth>", a)
	}
	if n := accepted.Load(); n != 1 {
		t.Fatalf("%d upstream connections, want 1", n)
	}
	p.Close() // taken: no effect on the session
	if _, err := s.Conn.Write([]byte("<presence/>")); err != nil {
		t.Fatalf("session closed by Close after the login took it: %v", err)
	}
}

// Dropped unused, the stream is closed with its closing tag.
func TestPreconnectCloseSaysGoodbye(t *testing.T) {
	var accepted atomic.Int32
	rest := make(chan string, 1)
	addr := fakeServerN(t, &accepted, func(c *fakeConn) {
		c.open()
		b, _ := io.ReadAll(c.r)
		rest <- string(b)
	})
	d := preconnDialer(t, addr)
	p := d.Preconnect(t.Context())
	waitDone(t, p)
	p.Close()
	p.Close()
	if got := <-rest; got != "</stream:stream>" {
		t.Fatalf("upstream got %q after the features, want only the closing tag", got)
	}
	if p.Ready() {
		t.Fatal("still ready after Close")
	}
	if _, _, ok := p.take(t.Context()); ok {
		t.Fatal("a dropped pre-connection was taken")
	}
}

// The connection never outlives the context it was opened for (the client's),
// whether it was ready or still negotiating.
func TestPreconnectEndsWithContext(t *testing.T) {
	for _, ready := range []bool{true, false} {
		var accepted atomic.Int32
		closed := make(chan struct{})
		heard := make(chan struct{})
		addr := fakeServerN(t, &accepted, func(c *fakeConn) {
			c.header()
			close(heard)
			if ready {
				c.send(fakeHeader + fakeFeatures("OAUTHBEARER"))
			}
			c.hold() // until the proxy hangs up
			close(closed)
		})
		d := preconnDialer(t, addr)
		d.cfg.LoginTimeout = time.Hour // only the context can end it
		ctx, cancel := context.WithCancel(t.Context())
		p := d.Preconnect(ctx)
		<-heard
		if ready {
			waitFor(t, p.Ready)
		}
		cancel()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatalf("ready=%v: upstream connection still open after the context ended", ready)
		}
		waitDone(t, p)
	}
}

// A pre-connection the upstream closed meanwhile costs the login nothing but
// a fresh dial; and a failed pre-connect leaves the login to dial.
func TestPreconnectStaleOrFailedFallsBack(t *testing.T) {
	for _, stale := range []bool{true, false} {
		var accepted atomic.Int32
		first := func(c *fakeConn) {
			if !stale {
				c.header()
				c.send("<garbage")
				return
			}
			c.open()
			// then hangs up
		}
		second := func(c *fakeConn) {
			c.open()
			c.until("</auth>")
			c.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
			c.hold()
		}
		d := preconnDialer(t, fakeServerN(t, &accepted, first, second))
		p := d.Preconnect(t.Context())
		waitDone(t, p)
		time.Sleep(50 * time.Millisecond) // the upstream's close arrives
		s, err := d.Login(WithPreconn(t.Context(), p), Credentials{Username: "alice", Token: "tok"})
		if err != nil {
			t.Fatalf("stale=%v: %v", stale, err)
		}
		s.Conn.Close()
		if n := accepted.Load(); n != 2 {
			t.Fatalf("stale=%v: %d connections, want 2", stale, n)
		}
	}
}

// Off, Preconnect opens nothing.
func TestPreconnectOff(t *testing.T) {
	d := fakeDialer(t, closedPort(t), CredToken)
	if p := d.Preconnect(t.Context()); p != nil {
		t.Fatal("Preconnect with Config.Preconnect off returned a connection")
	}
	var p *Preconn
	p.Close() // a nil Preconn is a no-op
	if ctx := WithPreconn(t.Context(), nil); ctx != t.Context() {
		t.Fatal("WithPreconn(nil) changed the context")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
