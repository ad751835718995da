package proxy

import (
	"crypto/tls"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// countingConn counts the bytes read through it.
type countingConn struct {
	net.Conn
	mu   sync.Mutex
	read int
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.read += n
	c.mu.Unlock()
	return n, err
}

func (c *countingConn) bytesRead() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.read
}

// A Direct TLS client a limit turns away is closed before any ServerHello: a
// refusal must not cost the proxy a handshake.
func TestRefusedDirectTLSClientGetsNoHandshake(t *testing.T) {
	e, obs := rateLimitedEnv(t, 1)
	e.directTLS() // takes the only token

	c := e.dial(e.tlsAddr)
	counted := &countingConn{Conn: c.conn}
	err := tls.Client(counted, &tls.Config{ServerName: testDomain, RootCAs: e.pool}).Handshake()
	if err == nil {
		t.Fatal("handshake succeeded on a refused connection")
	}
	if n := counted.bytesRead(); n != 0 {
		t.Errorf("the refused client read %d bytes, want none (no ServerHello)", n)
	}
	e.certs.mu.Lock()
	handshakes := len(e.certs.names)
	e.certs.mu.Unlock()
	if handshakes != 1 {
		t.Errorf("%d certificate lookups, want 1: the refused connection got a handshake", handshakes)
	}
	if obs.count("connection_rate") != 1 {
		t.Errorf("refusal not counted")
	}
}

// openCounter counts ConnOpened, the connections the server takes on.
type openCounter struct {
	countingObserver
	mu     sync.Mutex
	opened int
}

func (o *openCounter) ConnOpened(string) {
	o.mu.Lock()
	o.opened++
	o.mu.Unlock()
}

// Refused connections are answered and dropped, never held as connections.
func TestRefusedConnectionsAreNotTracked(t *testing.T) {
	obs := &openCounter{}
	e := newEnv(t, nil, func(c *Config) {
		c.Limits.MaxConnections = 1
		c.Observer = obs
	})
	e.preAuthClient()
	for range 5 {
		e.expectRefused("resource-constraint")
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.opened != 1 {
		t.Errorf("%d connections taken on, want 1: refused ones were tracked", obs.opened)
	}
	if n := obs.count("max_connections"); n != 5 {
		t.Errorf("%d refusals counted, want 5", n)
	}
}

// Connections still before <success/> are capped per client; a finished login
// gives its slot back.
func TestPreAuthCapPerClient(t *testing.T) {
	obs := &countingObserver{}
	e := newEnv(t, nil, func(c *Config) {
		c.Limits.MaxPreAuthPerClient = 2
		c.Observer = obs
	})
	e.login() // relayed: no longer pre-auth
	first := e.preAuthClient()
	e.preAuthClient()
	e.expectRefused("policy-violation")
	if obs.count("pre_auth_per_ip") != 1 {
		t.Errorf("refusal not counted")
	}
	first.conn.Close()
	waitFor(t, "the slot to be free", func() bool { return preAuthCount(e.srv) == 1 })
	e.preAuthClient()
}

func TestPreAuthCapOverall(t *testing.T) {
	obs := &countingObserver{}
	e := newEnv(t, nil, func(c *Config) {
		c.Limits.MaxPreAuth = 1
		c.Observer = obs
	})
	e.preAuthClient()
	e.expectRefused("resource-constraint")
	if obs.count("pre_auth_connections") != 1 {
		t.Errorf("refusal not counted")
	}
}

// preAuthClient opens a stream on the STARTTLS port and waits for its features.
func (e *env) preAuthClient() *client {
	e.t.Helper()
	c := e.dial(e.addr)
	c.send(clientHeader)
	c.expect("<starttls")
	return c
}

// expectRefused dials the STARTTLS port and checks that the answer is stream
// error cond and the end of the stream.
func (e *env) expectRefused(cond string) {
	e.t.Helper()
	c := e.dial(e.addr)
	c.send(clientHeader)
	if got := c.rest(); !strings.Contains(got, streamErrorXML(cond)) || !strings.HasSuffix(got, "</stream:stream>") {
		e.t.Fatalf("refused connection got %q, want %s", got, cond)
	}
}

func preAuthCount(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.admission.preAuth
}

// One IPv6 /64 is one client for the pre-auth cap and the connection rate: a
// thousand of its addresses get no more than one address would.
func TestPerClientLimitsKeyIPv6ByPrefix(t *testing.T) {
	limits := Limits{MaxPreAuthPerClient: 3, ConnectionRate: -1}
	limits.setDefaults()
	a := newAdmission(&limits)
	rateLimits := Limits{ConnectionRate: 0.001, ConnectionBurst: 1}
	rateLimits.setDefaults()
	rates := newConnRates(&rateLimits)
	admitted, rated := 0, 0
	for i := range 1000 {
		ip := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 8: byte(i >> 8), 9: byte(i), 15: 1})
		if _, reason := a.admit(0, clientKey(ip, limits.IPv6PrefixBits)); reason == "" {
			admitted++
		}
		if rates.allow(ip) {
			rated++
		}
	}
	if admitted != 3 {
		t.Errorf("%d pre-auth connections admitted from one /64, want 3", admitted)
	}
	if rated != 1 {
		t.Errorf("%d connections within the rate from one /64, want 1 (the burst)", rated)
	}
}

// Refused clients that neither send nor read nor close cost the server nothing
// once their answer's short linger has passed.
func TestRefusalsLeaveNothingBehind(t *testing.T) {
	e, obs := rateLimitedEnv(t, 1)
	before := warmGoroutines(t, e) // takes the only token
	for range 20 {
		e.dial(e.addr) // held open, silent, until the test ends
		e.dial(e.tlsAddr)
	}
	waitFor(t, "all to be refused", func() bool { return obs.count("connection_rate") == 40 })
	waitFor(t, "refusals to be answered", func() bool { return e.srv.refusing.Load() == 0 })
	noLeak(t, e, before)
}
