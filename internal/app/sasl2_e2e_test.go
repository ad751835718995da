package app_test

import (
	"strings"
	"testing"
)

// TestSASL2BindRawClient: a client speaking SASL2 and Bind2 by hand logs in
// through the proxy to the real Prosody: both SASL flavours are offered with
// the same mechanisms, a wrong password gets a SASL2 failure with the RFC 6120
// condition and the stream stays usable, the right one gets <success/> naming
// the full JID Prosody bound (the client's tag and a random part) with <bound/>,
// then the post-login features without bind. A stanza the client pipelined
// right behind </authenticate> reaches Prosody and its answer comes back: no
// byte is lost at the switch to the relay. The password never reaches the log.
func TestSASL2BindRawClient(t *testing.T) {
	s := startStack(t, "")
	for _, direct := range []bool{true, false} {
		c, f := s.dialRaw(t, direct)
		if !strings.Contains(f.Inner, "urn:xmpp:sasl:2") || !strings.Contains(f.Inner, "urn:xmpp:bind:0") {
			t.Fatalf("SASL2 with Bind2 not offered: %s", f.Inner)
		}
		ua := "<user-agent id='d4c2a9a4-7b1e-4a55-9a0e-3f7c1c2a9b10'><software>raw</software><device>ci</device></user-agent>"
		bind := "<bind xmlns='urn:xmpp:bind:0'><tag>raw phone</tag></bind>"
		wantSASL2Failure(t, c.authenticate2("PLAIN", plainPayload("", "alice", "wrong"), ua+bind), "not-authorized")

		c.send(authenticate2XML("PLAIN", plainPayload("", "alice", s.env.IdP.Users["alice"]), ua+bind) +
			"<iq type='get' id='ping1'><ping xmlns='urn:xmpp:ping'/></iq>")
		ok := wantSASL2Success(t, c.next())
		if ok.Bound == nil || !strings.HasPrefix(ok.AuthzID, s.jid("alice")+"/raw-phone.") {
			t.Fatalf("success: bound %v, authorization-identifier %q; want bound alice/raw-phone.<random>", ok.Bound != nil, ok.AuthzID)
		}
		feats := c.next()
		if feats.XMLName.Local != "features" || strings.Contains(feats.Inner, "xmpp-bind") {
			t.Fatalf("want features without bind after success, got <%s>%s", feats.XMLName.Local, feats.Inner)
		}
		if pong := c.next(); pong.XMLName.Local != "iq" || pong.attr("id") != "ping1" || pong.attr("type") != "result" {
			t.Fatalf("pipelined ping: got <%s %v>%s", pong.XMLName.Local, pong.Attrs, pong.Inner)
		}
		c.send("</stream:stream>")
		c.conn.Close()
	}
	if strings.Contains(s.logs.String(), s.env.IdP.Users["alice"]) {
		t.Fatal("the password is in the proxy's log")
	}
}

// TestSASL2FailuresAndLimits: every SASL2 failure is a SASL2 <failure/> with
// the RFC 6120 condition, and the attempt limit of legacy SASL holds.
func TestSASL2FailuresAndLimits(t *testing.T) {
	s := startStack(t, "")
	c, _ := s.dialRaw(t, true)
	wantSASL2Failure(t, c.authenticate2("DIGEST-MD5", []byte("x"), ""), "invalid-mechanism")
	c.send("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>!!!</initial-response></authenticate>")
	wantSASL2Failure(t, c.next(), "malformed-request")
	wantSASL2Failure(t, c.authenticate2("PLAIN", plainPayload("", "alice", "wrong"), ""), "not-authorized")
	wantStreamError(t, c, "policy-violation", "")
}

// TestSASL2OAuthBearer: OAUTHBEARER over SASL2 with a token from Glewlwyd:
// a bad token gets the RFC 7628 error challenge in a SASL2 <challenge/>, the
// client's %x01 answer a SASL2 not-authorized, and the good token <success/>
// with Bind2; the token never reaches the log.
func TestSASL2OAuthBearer(t *testing.T) {
	s := startStack(t, "")
	token := idpToken(t, s.env, "bob")
	c, _ := s.dialRaw(t, true)
	ch := c.authenticate2("OAUTHBEARER", bearerPayload("", "not-a-token"), "")
	if ch.XMLName.Space != "urn:xmpp:sasl:2" || ch.XMLName.Local != "challenge" ||
		!strings.Contains(decodeChallenge(t, ch), "openid-configuration") {
		t.Fatalf("want the RFC 7628 error challenge in SASL2, got <%s xmlns='%s'>%s", ch.XMLName.Local, ch.XMLName.Space, ch.Inner)
	}
	c.send("<response xmlns='urn:xmpp:sasl:2'>AQ==</response>")
	wantSASL2Failure(t, c.next(), "not-authorized")
	ok := wantSASL2Success(t, c.authenticate2("OAUTHBEARER", bearerPayload(s.jid("bob"), token),
		"<bind xmlns='urn:xmpp:bind:0'><tag>oauth</tag></bind>"))
	if ok.Bound == nil || !strings.HasPrefix(ok.AuthzID, s.jid("bob")+"/oauth.") {
		t.Fatalf("success: %+v", ok)
	}
	c.next() // features
	c.ping(t, "ping1")
	if strings.Contains(s.logs.String(), token) {
		t.Fatal("the token is in the proxy's log")
	}
}
