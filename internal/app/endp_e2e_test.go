package app_test

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"

	"mellium.im/sasl"
	"mellium.im/xmpp/stanza"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// clientEndPoint is RFC 5929 tls-server-end-point as a client computes it
// from the certificate it was shown; the test certificates are signed with
// SHA-256, so it is the certificate's SHA-256 (proxy/endpoint_test.go covers
// the other hashes).
func clientEndPoint(t *testing.T, st tls.ConnectionState) []byte {
	t.Helper()
	cert := st.PeerCertificates[0]
	switch cert.SignatureAlgorithm {
	case x509.ECDSAWithSHA256, x509.SHA256WithRSA, x509.SHA256WithRSAPSS:
		sum := sha256.Sum256(cert.Raw)
		return sum[:]
	}
	t.Fatalf("test certificate signed with %v, not SHA-256", cert.SignatureAlgorithm)
	return nil
}

// TestFASTEndPoint: a FAST token for HT-SHA-256-ENDP, minted after an
// app-password login, logs alice in over Direct TLS with the binding the
// client computes from the certificate it saw (a proof without it fails),
// and the responder proof covers it. A later connection that resumes the TLS
// session is offered ENDP again and binds to the same certificate.
func TestFASTEndPoint(t *testing.T) {
	s := startStack(t, storeConfig(t, "15m"))
	_, pw := s.newAppPassword(t, "alice", s.env.IdP.Users["alice"], "endp phone")
	token := s.fastToken(t, pw, "HT-SHA-256-ENDP", fastUA)

	cfg := s.tlsConfig()
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(2)
	var first []byte
	for i, resumed := range []bool{false, true} {
		c, f := s.dialRawTLS(t, cfg.Clone())
		st := c.conn.(*tls.Conn).ConnectionState()
		if st.DidResume != resumed {
			t.Fatalf("connection %d: resumed %v, want %v", i, st.DidResume, resumed)
		}
		if !strings.Contains(f.Inner, "<mechanism>HT-SHA-256-ENDP</mechanism>") {
			t.Fatalf("connection %d (resumed %v): ENDP not offered: %s", i, resumed, f.Inner)
		}
		if !resumed {
			first = clientEndPoint(t, st)
		} else if string(clientEndPoint(t, st)) != string(first) {
			t.Fatal("the resumed session shows another certificate")
		}
		wantSASL2Failure(t, c.authenticate2("HT-SHA-256-ENDP", htProof("alice", token, nil),
			fastUA+"<fast xmlns='urn:xmpp:fast:0'/>"), "not-authorized")
		ok := wantSASL2Success(t, c.authenticate2("HT-SHA-256-ENDP", htProof("alice", token, first),
			fastUA+"<bind xmlns='urn:xmpp:bind:0'><tag>endp</tag></bind><fast xmlns='urn:xmpp:fast:0'/>"))
		if ok.Bound == nil || ok.Data != base64.StdEncoding.EncodeToString(htMAC(token, "Responder", first)) {
			t.Fatalf("connection %d: bound %v, responder proof %q not over the end point", i, ok.Bound != nil, ok.Data)
		}
		c.next() // features
		c.ping(t, "ping")
		c.send("</stream:stream>")
		c.conn.Close()
	}
}

// TestGoXMPPFASTEndPoint: go-xmpp v0.4.1 logs in with an HT-SHA-256-ENDP
// token, computing tls-server-end-point its own way and checking the
// responder proof; then a message reaches bob. go-xmpp would ask for an
// EXPR token itself (it takes EXPR whenever offered), so the ENDP token is
// minted by the raw client for go-xmpp's device; go-xmpp only uses FAST
// where SCRAM is offered, so the password grant is off.
func TestGoXMPPFASTEndPoint(t *testing.T) {
	for _, v := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"} {
		t.Setenv(v, "") // go-xmpp dials through a proxy named there
	}
	env := testenv.Require(t)
	s := startStackFor(t, env, strings.Replace(env.ProxyConfig(listenAny, storeConfig(t, "15m")), "oauth:\n", "oauth:\n  resource_owner_password: false\n", 1))
	_, pw := s.newAppPassword(t, "alice", env.IdP.Users["alice"], "go-xmpp endp")
	o := s.goXMPPOptions("alice", pw, true)
	ua := "<user-agent id='" + o.UserAgentID + "'><software>go-xmpp-test</software><device>ci</device></user-agent>"
	token := s.fastToken(t, pw, "HT-SHA-256-ENDP", ua)

	bob, bobIn := s.melliumSession(t, "bob", "desk", s.newBobAppPassword(t), sasl.ScramSha256Plus)
	if err := bob.Send(t.Context(), stanza.Presence{}.Wrap(nil)); err != nil {
		t.Fatal(err)
	}
	o.Fast, o.FastToken, o.FastMechanism = true, token, "HT-SHA-256-ENDP"
	c, err := o.NewClient()
	if err != nil {
		t.Fatalf("go-xmpp ENDP login: %v", err)
	}
	if c.Mechanism != "HT-SHA-256-ENDP" {
		t.Fatalf("go-xmpp logged in with %q, want HT-SHA-256-ENDP", c.Mechanism)
	}
	goXMPPChat(t, s, c, bob, bobIn, "over FAST ENDP")
}
