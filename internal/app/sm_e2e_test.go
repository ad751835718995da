package app_test

import (
	"encoding/xml"
	"strings"
	"testing"

	"mellium.im/sasl"
	"mellium.im/xmpp/stanza"
)

// smBound is Bind2's <bound/> with XEP-0198's <enabled/> inside.
type smBound struct {
	Enabled *struct {
		ID     string `xml:"id,attr"`
		Resume string `xml:"resume,attr"`
	} `xml:"urn:xmpp:sm:3 enabled"`
}

// TestInlineStreamManagement: a SASL2 client enables stream management inside
// Bind2 (with carbons); the proxy enables it upstream after binding, so the
// counters are the client's and Prosody's alone: one stanza sent, <a h='1'/>.
// A message from bob arrives and is left unacknowledged, the connection is
// cut, and a new connection resumes inline in <authenticate/>: <success/>
// carries <resumed/> and the full JID, Prosody sends the unacknowledged
// message again, and the session goes on without a new bind.
func TestInlineStreamManagement(t *testing.T) {
	s := startStack(t, "")
	bob, _ := s.melliumSession(t, "bob", "desk", s.env.IdP.Users["bob"], sasl.Plain)
	if err := bob.Send(t.Context(), stanza.Presence{}.Wrap(nil)); err != nil {
		t.Fatal(err)
	}
	c, _ := s.dialRaw(t, true)
	el := c.authenticate2("PLAIN", plainPayload("", "alice", s.env.IdP.Users["alice"]),
		"<bind xmlns='urn:xmpp:bind:0'><tag>sm</tag><enable xmlns='urn:xmpp:carbons:2'/><enable xmlns='urn:xmpp:sm:3' resume='true'/></bind>")
	ok := wantSASL2Success(t, el)
	full := ok.AuthzID
	var b struct {
		Bound smBound `xml:"urn:xmpp:bind:0 bound"`
	}
	_ = xml.Unmarshal([]byte("<success>"+el.Inner+"</success>"), &b)
	if b.Bound.Enabled == nil || b.Bound.Enabled.ID == "" || b.Bound.Enabled.Resume != "true" {
		t.Fatalf("no resumable <enabled/> inside <bound/>: %s", el.Inner)
	}
	if f := c.next(); strings.Contains(f.Inner, "urn:xmpp:sm:3") || strings.Contains(f.Inner, "xmpp-bind") {
		t.Fatalf("features after inline SM still offer sm or bind: %s", f.Inner)
	}
	c.send("<iq type='get' id='ping1'><ping xmlns='urn:xmpp:ping'/></iq><r xmlns='urn:xmpp:sm:3'/>")
	c.wantSMAck(t, "ping1", "1")

	sendMessage(t, bob, full, "while you were away")
	c.nextMessage(t, "while you were away")
	c.conn.Close() // cut, never acknowledged

	r, _ := s.dialRaw(t, true)
	el = r.authenticate2("PLAIN", plainPayload("", "alice", s.env.IdP.Users["alice"]),
		"<resume xmlns='urn:xmpp:sm:3' h='1' previd='"+b.Bound.Enabled.ID+"'/><bind xmlns='urn:xmpp:bind:0'><tag>sm</tag></bind>")
	ok = wantSASL2Success(t, el)
	if ok.AuthzID != full || ok.Bound != nil || !strings.Contains(el.Inner, "resumed") {
		t.Fatalf("resume: authzid %q (want %q), bound %v, success %s", ok.AuthzID, full, ok.Bound != nil, el.Inner)
	}
	r.next() // features
	r.nextMessage(t, "while you were away")
	r.send("<iq type='get' id='ping2'><ping xmlns='urn:xmpp:ping'/></iq><r xmlns='urn:xmpp:sm:3'/>")
	r.wantSMAck(t, "ping2", "2")
}

// nextMessage reads elements up to a message with body.
func (c *rawClient) nextMessage(t *testing.T, body string) {
	t.Helper()
	for range 16 {
		el := c.next()
		if el.XMLName.Local == "message" && strings.Contains(el.Inner, body) {
			return
		}
	}
	t.Fatalf("no message %q in 16 elements", body)
}

// wantSMAck reads the answer to ping id and then the server's <a/>, which must
// count h stanzas.
func (c *rawClient) wantSMAck(t *testing.T, id, h string) {
	t.Helper()
	gotPing := false
	for range 16 {
		el := c.next()
		switch {
		case el.XMLName.Local == "iq" && el.attr("id") == id:
			gotPing = true
		case el.XMLName.Space == "urn:xmpp:sm:3" && el.XMLName.Local == "a":
			if !gotPing || el.attr("h") != h {
				t.Fatalf("<a h='%s'/> (ping answered: %v), want h=%s after the ping", el.attr("h"), gotPing, h)
			}
			return
		}
	}
	t.Fatal("no <a/> in 16 elements")
}
