package proxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

const restartHeader = "<stream:stream to='example.com' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"

// upstreamReads is an upstream handler that reads n bytes and hands them over.
func upstreamReads(n int, got chan<- []byte) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, n)
		k, _ := io.ReadFull(c, buf)
		got <- buf[:k]
	}
}

func TestPipelinedRestartReachesUpstreamWhole(t *testing.T) {
	for _, size := range []int{100, 10000, 100000} {
		t.Run("", func(t *testing.T) {
			iq := "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" +
				strings.Repeat("r", size) + "</resource></bind></iq>"
			want := restartHeader + iq
			got := make(chan []byte, 1)
			e := newEnv(t, upstreamReads(len(want), got))
			c := e.dial(e.addr)
			c.startTLS(e.pool)
			// One write: the proxy reads <auth/>, logs in, and must lose nothing after it.
			c.send(plainAuth("juliet", "s3cret") + want)
			c.expect("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
			if b := <-got; string(b) != want {
				t.Errorf("upstream got %d bytes, want the %d sent after </auth>", len(b), len(want))
			}
		})
	}
}

func TestUpstreamBufferedBytesReachClient(t *testing.T) {
	e := newEnv(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	e.up.buffered = []byte("<stream:stream from='example.com' id='x'>")
	c := e.login()
	c.expect("<stream:stream from='example.com' id='x'>")
}

func TestRelayIsByteExactBothWays(t *testing.T) {
	const n = 1 << 20
	up := make([]byte, n)   // client -> upstream
	down := make([]byte, n) // upstream -> client
	_, _ = rand.Read(up)
	_, _ = rand.Read(down)
	up[0] = '<' // whitespace before the restarted stream's first '<' is dropped
	gotUp := make(chan []byte, 1)
	e := newEnv(t, func(c net.Conn) {
		go func() { _, _ = c.Write(down) }()
		buf := make([]byte, n)
		k, _ := io.ReadFull(c, buf)
		gotUp <- buf[:k]
	})
	c := e.login()
	go func() { _, _ = c.conn.Write(up) }()
	buf := make([]byte, n)
	if _, err := io.ReadFull(c.br, buf); err != nil {
		t.Fatalf("client read: %v", err)
	}
	if !bytes.Equal(buf, down) {
		t.Error("bytes from upstream changed on the way")
	}
	if got := <-gotUp; !bytes.Equal(got, up) {
		t.Errorf("bytes from the client changed on the way: got %d bytes, want %d; first %x, want %x", len(got), len(up), got[:min(8, len(got))], up[:8])
	}
}

func TestCleanCloseFromClient(t *testing.T) {
	gotUp := make(chan string, 1)
	e := newEnv(t, func(c net.Conn) {
		b, _ := io.ReadAll(c) // to EOF: the proxy half-closed after the client's close
		_, _ = io.WriteString(c, "</stream:stream>")
		gotUp <- string(b)
	})
	c := e.login()
	c.send(restartHeader + "</stream:stream>")
	_ = c.conn.(*tls.Conn).CloseWrite()
	if got := <-gotUp; got != restartHeader+"</stream:stream>" {
		t.Errorf("upstream got %q, want the stream and one closing tag", got)
	}
	if got := c.rest(); got != "</stream:stream>" {
		t.Errorf("client got %q, want just the upstream's closing tag", got)
	}
}

func TestClientVanishes(t *testing.T) {
	gotUp := make(chan string, 1)
	e := newEnv(t, func(c net.Conn) {
		b, _ := io.ReadAll(c)
		gotUp <- string(b)
	})
	c := e.login()
	c.send(restartHeader)
	c.conn.(*tls.Conn).NetConn().Close() // no close_notify, no closing tag
	// A lost client is a lost connection upstream too, never a clean close: the
	// server must keep the XEP-0198 session for the client to resume.
	if got := <-gotUp; got != restartHeader {
		t.Errorf("upstream got %q, want the stream cut without a closing tag", got)
	}
}

func TestCleanCloseFromUpstream(t *testing.T) {
	e := newEnv(t, func(c net.Conn) {
		_, _, _ = answerRestart(c)
		_, _ = io.WriteString(c, "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>")
	})
	c := e.login()
	c.send(restartHeader)
	got := c.rest()
	if !strings.HasSuffix(got, "<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>") {
		t.Errorf("client got %q, want the upstream's own end", got)
	}
	if strings.Contains(got, "remote-connection-failed") {
		t.Errorf("a clean upstream close reported as a failure: %q", got)
	}
}

func TestUpstreamVanishes(t *testing.T) {
	e := newEnv(t, func(c net.Conn) { _, _, _ = answerRestart(c) })
	c := e.login()
	c.send(restartHeader)
	got := c.rest()
	want := upstreamFeatures + streamErrorXML("remote-connection-failed") + "</stream:error></stream:stream>"
	if !strings.HasSuffix(got, want) {
		t.Errorf("client got %q, want suffix %q", got, want)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	e := newEnv(t, func(c net.Conn) {
		_, _, _ = answerRestart(c)
		_, _ = io.Copy(io.Discard, c)
	}, func(c *Config) { c.Limits.ConnectionBurst = 100 }) // 61 connections from one IP, faster than the default rate refills
	before := warmGoroutines(t, e)
	for i := 0; i < 30; i++ {
		c := e.login()
		c.send(restartHeader)
		c.expect(upstreamFeatures)
		switch i % 3 {
		case 0:
			c.send("</stream:stream>")
			c.conn.Close()
		case 1:
			c.conn.(*tls.Conn).NetConn().Close()
		case 2:
			c.conn.Close()
		}
	}
	for i := 0; i < 30; i++ { // and some that never finish the pre-auth phase
		c := e.dial(e.addr)
		c.send(clientHeader)
		c.conn.Close()
	}
	noLeak(t, e, before)
}

// sessionCount is how many connections the server tracks.
func sessionCount(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func TestShutdownEndsPreAuthConnections(t *testing.T) {
	e := newEnv(t, nil)
	plain := e.dial(e.addr)
	plain.send(clientHeader)
	plain.expect("</stream:features>")
	secure := e.dial(e.addr)
	secure.startTLS(e.pool)
	waitFor(t, "two connections", func() bool { return sessionCount(e.srv) == 2 })

	e.shutdown = true
	if err := e.srv.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	for _, c := range []*client{plain, secure} {
		if got := c.rest(); got != streamErrorXML("system-shutdown")+"</stream:error></stream:stream>" {
			t.Errorf("got %q, want system-shutdown", got)
		}
	}
	if c, err := net.Dial("tcp", e.addr); err == nil {
		c.Close()
		t.Error("still accepting after Shutdown")
	}
}

func TestShutdownDrainsRelayedSessions(t *testing.T) {
	e := newEnv(t, func(c net.Conn) {
		br, _, _ := answerRestart(c)
		_, _ = readThrough(br, "</stream:stream>")
		_, _ = io.WriteString(c, "</stream:stream>")
	})
	c := e.login()
	c.send(restartHeader)
	c.expect(upstreamFeatures)

	e.shutdown = true
	done := make(chan error, 1)
	go func() { done <- e.srv.Shutdown(context.Background()) }()
	// The session goes on during the drain, then ends by itself.
	c.send("</stream:stream>")
	if got := c.rest(); got != "</stream:stream>" {
		t.Errorf("client got %q, want the upstream's closing tag", got)
	}
	c.conn.Close()
	if err := <-done; err != nil {
		t.Errorf("Shutdown = %v, want nil after a drain", err)
	}
}

func TestShutdownCutsRelayedSessionsAtDeadline(t *testing.T) {
	gotUp := make(chan string, 1)
	e := newEnv(t, func(c net.Conn) {
		br, _, _ := answerRestart(c)
		b, _ := io.ReadAll(br)
		gotUp <- string(b)
	})
	c := e.login()
	c.send(restartHeader)
	c.expect(upstreamFeatures)

	e.shutdown = true
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := e.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want DeadlineExceeded", err)
	}
	if got := c.rest(); got != streamErrorXML("system-shutdown")+"</stream:error></stream:stream>" {
		t.Errorf("client got %q, want system-shutdown", got)
	}
	if got := <-gotUp; got != "</stream:stream>" {
		t.Errorf("upstream got %q after the features, want the closing tag", got)
	}
	if n := sessionCount(e.srv); n != 0 {
		t.Errorf("%d connections left after Shutdown", n)
	}
}

func TestShutdownDuringTLSHandshakeWritesNoPlaintext(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(e.tlsAddr) // sends no ClientHello
	waitFor(t, "the connection", func() bool { return sessionCount(e.srv) == 1 })
	e.shutdown = true
	if err := e.srv.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if got := c.rest(); got != "" {
		t.Errorf("a client expecting TLS records got plaintext %q", got)
	}
}
