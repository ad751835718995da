package proxy

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/proxy/upstream"
)

// xmppUpstream is a scripted upstream XMPP server for a real upstream.Dialer
// (passthrough credentials, PLAIN on loopback). It reports each connection's
// events in order: "open" once the stream header is answered, "auth" at the
// <auth/>, "closed" when the proxy hangs up, with what it sent after the
// features when that was not a login.
type xmppUpstream struct {
	addr   string
	events chan string
}

func newXMPPUpstream(t *testing.T) *xmppUpstream {
	t.Helper()
	u := &xmppUpstream{events: make(chan string, 64)}
	u.addr = newFakeUpstream(t, u.serve).ln.Addr().String() // its Login is not used
	return u
}

func (u *xmppUpstream) serve(c net.Conn) {
	br := bufio.NewReader(c)
	if _, err := readThrough(br, "<stream:stream", ">"); err != nil {
		u.events <- "closed before the header"
		return
	}
	_, _ = io.WriteString(c, "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='example.com' id='u1' version='1.0'>"+
		"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>")
	u.events <- "open"
	var got strings.Builder
	for {
		b, err := br.ReadByte()
		if err != nil {
			u.events <- "closed after " + got.String()
			return
		}
		got.WriteByte(b)
		if strings.HasSuffix(got.String(), "</auth>") {
			break
		}
	}
	u.events <- "auth"
	_, _ = io.WriteString(c, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
	_, _, _ = answerRestart(c)
	_, _ = io.Copy(io.Discard, c)
	u.events <- "closed"
}

func (u *xmppUpstream) next(t *testing.T) string {
	t.Helper()
	select {
	case e := <-u.events:
		return e
	case <-time.After(ioTimeout):
		t.Fatal("no event from the upstream")
		return ""
	}
}

// closed checks that the proxy closed an unused stream: with its closing tag,
// or with none when it was still reading the features (the attempt is cut).
func (u *xmppUpstream) closed(t *testing.T, when string) {
	t.Helper()
	if ev := u.next(t); ev != "closed after </stream:stream>" && ev != "closed after " {
		t.Fatalf("upstream %q %s, want it closed", ev, when)
	}
}

// none checks that the upstream saw nothing (more) for a moment.
func (u *xmppUpstream) none(t *testing.T) {
	t.Helper()
	select {
	case e := <-u.events:
		t.Fatalf("unexpected upstream event %q", e)
	case <-time.After(100 * time.Millisecond):
	}
}

// preconnectEnv is a proxy whose domain logs in through a real upstream.Dialer
// to a scripted server.
func preconnectEnv(t *testing.T, preconnect bool) (*env, *xmppUpstream) {
	t.Helper()
	u := newXMPPUpstream(t)
	d, err := upstream.New(upstream.Config{Domain: testDomain, Address: u.addr, TLSMode: upstream.TLSNone,
		Credentials: upstream.CredPassthrough, Preconnect: preconnect, Logger: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil, func(c *Config) { c.Domains[0].Upstream = d })
	return e, u
}

// The upstream stream is open before the client authenticates (at the Direct
// TLS ClientHello, or at the first stream header with STARTTLS), and the login
// runs on it: one upstream connection per client.
func TestPreconnectBeforeSASL(t *testing.T) {
	for _, direct := range []bool{true, false} {
		e, u := preconnectEnv(t, true)
		var c *client
		if direct {
			c = e.directHello()
			if ev := u.next(t); ev != "open" {
				t.Fatalf("direct: upstream %q before the client's stream header, want open", ev)
			}
			c.send(clientHeader)
			c.expect("</stream:features>")
		} else {
			c = e.dial(e.addr)
			c.send(clientHeader)
			c.expect("</stream:features>")
			if ev := u.next(t); ev != "open" {
				t.Fatalf("starttls: upstream %q before STARTTLS, want open", ev)
			}
			c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
			c.expect("<proceed")
			tc := tls.Client(c.conn, &tls.Config{ServerName: testDomain, RootCAs: e.pool})
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			c.conn, c.br = tc, bufio.NewReader(tc)
			c.send(clientHeader)
			c.expect("</stream:features>")
		}
		c.send(plainAuth("juliet", "s3cret"))
		c.expect("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
		if ev := u.next(t); ev != "auth" {
			t.Fatalf("direct=%v: upstream %q, want the login on the open stream", direct, ev)
		}
		c.send(clientHeader)
		c.expect("</stream:features>")
		u.none(t) // no second connection
	}
}

// A client that fails authentication, or leaves, takes its pre-connected
// upstream stream with it (closed with its closing tag); the next attempt dials.
func TestPreconnectClosedOnFailureOrLeave(t *testing.T) {
	e, u := preconnectEnv(t, true)
	c := e.directHello()
	if ev := u.next(t); ev != "open" {
		t.Fatalf("upstream %q, want open", ev)
	}
	c.send(clientHeader)
	c.expect("</stream:features>")
	c.send(plainAuth("juliet", "wrong"))
	c.expect(saslFailureXML("not-authorized"))
	u.closed(t, "after a failed auth")
	c.send(plainAuth("juliet", "s3cret"))
	c.expect("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
	if ev := u.next(t); ev != "open" {
		t.Fatalf("upstream %q, want a fresh dial for the second attempt", ev)
	}
	if ev := u.next(t); ev != "auth" {
		t.Fatalf("upstream %q, want auth", ev)
	}

	c2 := e.directHello()
	if ev := u.next(t); ev != "open" {
		t.Fatalf("upstream %q, want open", ev)
	}
	c2.conn.Close()
	u.closed(t, "after the client left")
}

// Off (upstream.preconnect: false), nothing is dialled before the login, and a
// bare TCP connection opens nothing upstream either way.
func TestPreconnectOffOrBareTCP(t *testing.T) {
	e, u := preconnectEnv(t, false)
	c := e.directHello()
	c.send(clientHeader)
	c.expect("</stream:features>")
	u.none(t)
	c.send(plainAuth("juliet", "s3cret"))
	c.expect("<success")
	if ev := u.next(t); ev != "open" {
		t.Fatalf("upstream %q, want open at the login", ev)
	}

	e, u = preconnectEnv(t, true)
	bare := e.dial(e.tlsAddr)
	u.none(t)
	bare.conn.Close()
	u.none(t)
}
