package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestIdleSessionsParkNoGoroutine holds 50 idle relayed sessions (TLS on both sides,
// over tlsrecord.Conn as in production) and checks that none of them keeps a
// goroutine, that a parked session still relays byte for byte both ways when it
// wakes, and that Shutdown cuts parked sessions with system-shutdown.
func TestIdleSessionsParkNoGoroutine(t *testing.T) {
	if !canWaitReadable {
		t.Skip("no reactor on this platform: each direction keeps its goroutine")
	}
	cert, _ := certificate(t)
	up := startParkingUpstream(t, true, cert)
	e := newEnv(t, nil, func(cfg *Config) {
		cfg.Domains[0].Upstream = dialUpstream{addr: up.addr(), useTLS: true}
		cfg.Limits.ConnectionRate = -1
	})
	session := func() *client {
		c := e.login()
		c.send(restartHeader)
		c.expect(upstreamFeatures)
		return c
	}
	// Warm up: the reactor and crypto/tls start goroutines of their own once.
	clients := []*client{session()}
	before := runtime.NumGoroutine()
	const n = 50
	for i := 0; i < n; i++ {
		clients = append(clients, session())
	}
	// The goroutines that ran the logins are gone once their sessions parked; a few
	// stragglers (timers, the test's own helpers) may come and go.
	const slack = 5
	waitFor(t, "50 idle sessions to park", func() bool { return runtime.NumGoroutine() <= before+slack })

	// A parked session wakes for data in either direction and moves it intact.
	c := clients[n/2]
	up.mu.Lock()
	upc := up.conns[n/2]
	up.mu.Unlock()
	msg := "<message to='romeo@example.com'><body>" + strings.Repeat("wherefore ", 3000) + "</body></message>"
	c.send(msg)
	_ = upc.SetReadDeadline(time.Now().Add(ioTimeout))
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(upc, got); err != nil || string(got) != msg {
		t.Fatalf("upstream got %d bytes (%v), want the %d sent", len(got), err, len(msg))
	}
	reply := "<message from='romeo@example.com'><body>" + strings.Repeat("art thou ", 2500) + "</body></message>"
	_ = upc.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(upc, reply); err != nil {
		t.Fatal(err)
	}
	c.expect(reply)
	waitFor(t, "the woken session to park again", func() bool { return runtime.NumGoroutine() <= before+slack })

	// Shutdown with no time to drain cuts every parked session.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e.shutdown = true
	if err := e.srv.Shutdown(ctx); err == nil {
		t.Error("Shutdown reported a drain; the idle sessions had to be cut")
	}
	for _, c := range clients {
		c.expect(streamErrorXML("system-shutdown"))
	}
	up.mu.Lock()
	conns := append([]net.Conn(nil), up.conns...)
	up.mu.Unlock()
	for _, u := range conns {
		_ = u.SetReadDeadline(time.Now().Add(ioTimeout))
		rest, _ := io.ReadAll(bufio.NewReader(u))
		if !strings.HasSuffix(string(rest), streamClose) {
			t.Errorf("upstream got %q at shutdown, want our closing tag", rest)
		}
	}
	if n := sessionCount(e.srv); n != 0 {
		t.Errorf("%d sessions still tracked after Shutdown", n)
	}
}
