package proxy

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// warmGoroutines runs one whole session first (the first TLS handshake starts
// goroutines of its own) and returns the goroutine count to come back to.
func warmGoroutines(t *testing.T, e *env) int {
	t.Helper()
	c := e.login()
	c.conn.Close()
	waitFor(t, "the warm-up session to end", func() bool { return sessionCount(e.srv) == 0 })
	return runtime.NumGoroutine()
}

// noLeak waits until the server holds no session and no goroutine is left over.
func noLeak(t *testing.T, e *env, before int) {
	t.Helper()
	waitFor(t, "the session to be forgotten", func() bool { return sessionCount(e.srv) == 0 })
	waitFor(t, "goroutines to go back to the start", func() bool { return runtime.NumGoroutine() <= before })
}

// notTimedOut reports whether err ended a connection because the proxy closed it,
// not because the test's own deadline passed.
func notTimedOut(err error) bool { return err != nil && !isTimeout(err) }

const relayWriteTimeout = 100 * time.Millisecond

// A client that never reads: the write toward it times out, the session ends and
// the upstream connection is closed, with no goroutine left behind.
func TestRelayClientThatNeverReads(t *testing.T) {
	upstreamEnd := make(chan error, 2)
	e := newEnv(t, func(c net.Conn) {
		if _, _, err := answerRestart(c); err != nil {
			return
		}
		chunk := bytes.Repeat([]byte("<message><body>x</body></message>"), 2000)
		for {
			if _, err := c.Write(chunk); err != nil {
				upstreamEnd <- err
				return
			}
		}
	}, func(c *Config) { c.WriteTimeout = relayWriteTimeout })
	before := warmGoroutines(t, e)

	c := e.login()
	c.send(restartHeader) // and never read again
	if err := <-upstreamEnd; !notTimedOut(err) {
		t.Fatalf("upstream write ended with %v, want the proxy to close the connection", err)
	}
	noLeak(t, e, before)
}

// An upstream that never reads: the write toward it times out, the session ends,
// the client's connection is closed and the upstream's too.
func TestRelayUpstreamThatNeverReads(t *testing.T) {
	release := make(chan struct{})
	upstreamEnd := make(chan error, 2)
	e := newEnv(t, func(c net.Conn) {
		if _, _, err := answerRestart(c); err != nil {
			return
		}
		<-release
		_, err := io.Copy(io.Discard, c)
		if err == nil {
			err = io.EOF
		}
		upstreamEnd <- err
	}, func(c *Config) { c.WriteTimeout = relayWriteTimeout })
	before := warmGoroutines(t, e)

	c := e.login()
	c.send(restartHeader)
	c.expect(upstreamFeatures)
	go func() {
		chunk := bytes.Repeat([]byte("<message><body>x</body></message>"), 2000)
		for {
			if _, err := c.conn.Write(chunk); err != nil {
				return
			}
		}
	}()
	if _, err := io.Copy(io.Discard, c.br); err != nil && !notTimedOut(err) {
		t.Fatalf("client connection ended with %v, want the proxy to close it", err)
	}
	close(release)
	if err := <-upstreamEnd; !notTimedOut(err) {
		t.Fatalf("upstream read ended with %v, want the proxy to close the connection", err)
	}
	noLeak(t, e, before)
}
