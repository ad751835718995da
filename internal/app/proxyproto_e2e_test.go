package app_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
)

// dialProxied connects to the STARTTLS listener as a load balancer would: a PROXY
// v2 header naming client first, then the client's own bytes.
func (s *stack) dialProxied(t *testing.T, client string) *rawClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.starttls, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := net.ResolveTCPAddr("tcp", client)
	h := proxyproto.HeaderProxyFromAddrs(2, src, conn.RemoteAddr())
	if _, err := h.WriteTo(conn); err != nil {
		t.Fatal(err)
	}
	return newRaw(t, conn)
}

// TestProxyProtocolFromTrustedBalancer: the header's client address reaches logs
// and limits: one client that keeps failing is blocked, another behind the same
// balancer is not.
func TestProxyProtocolFromTrustedBalancer(t *testing.T) {
	env := testenvRequire(t)
	yaml := strings.Replace(env.ProxyConfig(listenAny, "limits: {free_failed_logins: 1, failed_login_delay: 1m}\n"),
		"mode: starttls}", "mode: starttls, proxy_protocol: true, trusted_proxies: [\"127.0.0.1/32\"]}", 1)
	s := startStackFor(t, env, yaml)

	login := func(client, password string) string {
		c := s.dialProxied(t, client)
		f := c.open(env.Prosody.Domain)
		if !strings.Contains(f.Inner, "starttls") {
			t.Fatalf("features: %s", f.Inner)
		}
		c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
		c.next()
		c = c.upgrade(s)
		c.open(env.Prosody.Domain)
		return c.auth("PLAIN", plainPayload("", "carol", password)).child()
	}
	for i := 0; i < 2; i++ {
		if got := login("203.0.113.7:40000", "wrong"); got != "not-authorized" {
			t.Fatalf("attempt %d: %s", i, got)
		}
	}
	if got := login("203.0.113.7:40001", env.IdP.Users["carol"]); got != "temporary-auth-failure" {
		t.Fatalf("blocked client address: got %s, want temporary-auth-failure", got)
	}
	// Same balancer, another client: its own address, its own count. (The username
	// carol is blocked too, so this one logs in as bob.)
	c := s.dialProxied(t, "198.51.100.9:50000")
	c.open(env.Prosody.Domain)
	c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	c.next()
	c = c.upgrade(s)
	c.open(env.Prosody.Domain)
	if el := c.auth("PLAIN", plainPayload("", "bob", env.IdP.Users["bob"])); el.XMLName.Local != "success" {
		t.Fatalf("other client: <%s>%s", el.XMLName.Local, el.Inner)
	}
	logs := s.logs.String()
	if !strings.Contains(logs, `"remote":"203.0.113.7:40000"`) || !strings.Contains(logs, `"remote":"198.51.100.9:50000"`) {
		t.Errorf("logs do not show the clients' addresses from the PROXY header")
	}
}

// TestProxyProtocolFromUntrustedAddress: the same header from an address that is
// not a trusted balancer is refused.
func TestProxyProtocolFromUntrustedAddress(t *testing.T) {
	env := testenvRequire(t)
	yaml := strings.Replace(env.ProxyConfig(listenAny, ""),
		"mode: starttls}", "mode: starttls, proxy_protocol: true, trusted_proxies: [\"10.0.0.0/8\"]}", 1)
	s := startStackFor(t, env, yaml)
	c := s.dialProxied(t, "203.0.113.7:40000")
	// The write may already fail: the proxy closed the connection on sight.
	_, _ = c.conn.Write([]byte("<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"))
	if el, err := c.tryNext(); err == nil {
		t.Fatalf("untrusted peer got an answer: <%s>", el.XMLName.Local)
	}
	if !strings.Contains(s.logs.String(), "untrusted address refused") {
		t.Error("no log line for the refusal")
	}
	if n := s.scrape(t, `xmpp_oauth_proxy_refused_total{reason="untrusted_proxy"}`); n != 1 {
		t.Errorf("refused_total{untrusted_proxy} = %v", n)
	}
}
