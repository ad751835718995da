package app_test

import (
	"crypto/tls"
	"net"
	"regexp"
	"testing"
	"time"
)

var iapVersion = regexp.MustCompile(`<config-version xmlns='urn:xmpp:iap:0' value='([^']+)'/>`)

// TestFASTPipelined (XEP-0509): a client that cached the features' config
// version sends its stream header and a FAST <authenticate/> in one write
// right after TLS, and is bound through the real Prosody without a request
// to the IdP; a stale version is refused without prejudice and the same
// stream then logs in.
func TestFASTPipelined(t *testing.T) {
	s := startStack(t, storeConfig(t, "15m"))
	_, pw := s.newAppPassword(t, "alice", s.env.IdP.Users["alice"], "pipelining phone")
	token := s.fastToken(t, pw, "HT-SHA-256-NONE", fastUA)
	probe, f := s.dialRaw(t, true)
	probe.conn.Close()
	m := iapVersion.FindStringSubmatch(f.Inner)
	if m == nil {
		t.Fatalf("no XEP-0509 config-version in the features: %s", f.Inner)
	}
	idp := s.tokenRequests(t)

	authenticate := func(version string) string {
		return authenticate2XML("HT-SHA-256-NONE", htProof("alice", token, nil),
			fastUA+"<bind xmlns='urn:xmpp:bind:0'><tag>pipelined</tag></bind><fast xmlns='urn:xmpp:fast:0'/>"+
				"<config-version xmlns='urn:xmpp:iap:0' value='"+version+"'/>")
	}
	dial := func() *rawClient {
		cfg := s.tlsConfig()
		cfg.NextProtos = []string{"xmpp-client"}
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.direct, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return newRaw(t, conn)
	}

	c := dial()
	c.send(clientStreamHeader(s.env.Prosody.Domain) + authenticate(m[1]))
	c.openRead() // the features, sent while the authenticate was on its way
	ok := wantSASL2Success(t, c.next())
	if ok.Bound == nil {
		t.Fatalf("pipelined FAST login not bound (authzid %s)", ok.AuthzID)
	}
	c.next() // features after success
	c.ping(t, "pipelined")

	stale := dial()
	stale.send(clientStreamHeader(s.env.Prosody.Domain) + authenticate("stale"))
	stale.openRead()
	if el := stale.next(); el.XMLName.Local != "failure" || !regexp.MustCompile(`config-version-mismatch`).MatchString(el.Inner) {
		t.Fatalf("stale version: <%s>%s", el.XMLName.Local, el.Inner)
	}
	wantSASL2Success(t, stale.authenticate2("HT-SHA-256-NONE", htProof("alice", token, nil),
		fastUA+"<bind xmlns='urn:xmpp:bind:0'><tag>pipelined</tag></bind><fast xmlns='urn:xmpp:fast:0'/>"))
	if got := s.tokenRequests(t); got != idp {
		t.Fatalf("pipelined FAST logins made %v IdP token requests, want 0", got-idp)
	}
}
