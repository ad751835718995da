package app_test

import (
	"strings"
	"testing"
)

// TestWebSocketSASL2Bind2: over WebSocket the proxy offers SASL2 with Bind2 as
// over TCP. A client authenticates and binds in one exchange, with no stream
// restart (RFC 7395 has no <open/> after SASL2), and its stanzas relay: a ping
// sent right behind </authenticate> is answered by Prosody, and a message
// reaches a TCP client.
func TestWebSocketSASL2Bind2(t *testing.T) {
	s := startWSStack(t)
	bob := s.loginPlain(t, "bob", s.env.IdP.Users["bob"])
	bob.open(s.env.Prosody.Domain)
	bobJID := bob.bind("desk")
	bob.send("<presence/>")

	c := s.dialWS(t)
	f := c.open(s.env.Prosody.Domain)
	if !strings.Contains(f.Inner, "urn:xmpp:sasl:2") || !strings.Contains(f.Inner, "urn:xmpp:bind:0") {
		t.Fatalf("SASL2 with Bind2 not offered over WebSocket: %s", f.Inner)
	}
	bind := "<bind xmlns='urn:xmpp:bind:0'><tag>web</tag></bind>"
	c.send(authenticate2XML("PLAIN", plainPayload("", "alice", "wrong"), bind))
	wantSASL2Failure(t, c.next(), "not-authorized")
	c.send(authenticate2XML("PLAIN", plainPayload("", "alice", s.env.IdP.Users["alice"]), bind))
	c.send("<iq xmlns='jabber:client' type='get' id='wsping'><ping xmlns='urn:xmpp:ping'/></iq>")
	ok := wantSASL2Success(t, c.next())
	if ok.Bound == nil || !strings.HasPrefix(ok.AuthzID, s.jid("alice")+"/web.") {
		t.Fatalf("success: bound %v, authorization-identifier %q", ok.Bound != nil, ok.AuthzID)
	}
	if feats := c.next(); feats.XMLName.Local != "features" {
		t.Fatalf("want the server's features after success, got <%s>", feats.XMLName.Local)
	}
	if pong := c.next(); pong.XMLName.Local != "iq" || pong.attr("id") != "wsping" || pong.attr("type") != "result" {
		t.Fatalf("ping behind </authenticate>: got <%s>%s", pong.XMLName.Local, pong.Inner)
	}
	c.send("<message xmlns='jabber:client' to='" + bobJID + "' type='chat'><body>sasl2 over websocket</body></message>")
	awaitMessage(t, bob.next, "sasl2 over websocket")
}
