package app_test

import (
	"encoding/xml"
	"testing"

	"mellium.im/sasl"
	"mellium.im/xmpp/stanza"
)

// carbonCopy is a XEP-0280 copy: <received/> or <sent/> around the forwarded message.
type carbonCopy struct {
	Received *carbonFwd `xml:"urn:xmpp:carbons:2 received"`
	Sent     *carbonFwd `xml:"urn:xmpp:carbons:2 sent"`
}

type carbonFwd struct {
	Forwarded struct {
		Message struct {
			From string `xml:"from,attr"`
			To   string `xml:"to,attr"`
			Body string `xml:"body"`
		} `xml:"jabber:client message"`
	} `xml:"urn:xmpp:forward:0 forwarded"`
}

// carbonsBefore pings the server through c and returns the carbon copies
// that arrive before the answer. Prosody sends a carbon before it delivers
// the message itself, so once the message has arrived, a ping sent then is
// answered after every carbon of it.
func (c *rawClient) carbonsBefore(t *testing.T, id string) []carbonCopy {
	t.Helper()
	c.send("<iq type='get' id='" + id + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	var out []carbonCopy
	for _, el := range c.untilIQ(t, id) {
		if el.XMLName.Local != "message" {
			continue
		}
		var cc carbonCopy
		if err := xml.Unmarshal([]byte("<message xmlns='jabber:client'>"+el.Inner+"</message>"), &cc); err != nil {
			t.Fatal(err)
		}
		if cc.Received == nil && cc.Sent == nil {
			t.Fatalf("a message that is no carbon: %s", el.Inner)
		}
		out = append(out, cc)
	}
	return out
}

// TestInlineCarbons: carbons asked inline in Bind2 work end to end through
// Prosody. alice is online three times over SASL2: A asks for carbons inside
// <bind/>, B and C do not. bob's chat message to alice/B reaches A as a
// <received/> carbon, B's chat message to bob reaches A as a <sent/> carbon,
// and C, whose login did not ask for carbons, gets neither (its ping answer
// is not preceded by any). Each resource sends
// initial presence, as a client does.
func TestInlineCarbons(t *testing.T) {
	s := startStack(t, "")
	bob, bobIn := s.melliumSession(t, "bob", "desk", s.env.IdP.Users["bob"], sasl.Plain)
	if err := bob.Send(t.Context(), stanza.Presence{}.Wrap(nil)); err != nil {
		t.Fatal(err)
	}
	login := func(tag, inline string) (*rawClient, string) {
		c, _ := s.dialRaw(t, true)
		ok := wantSASL2Success(t, c.authenticate2("PLAIN", plainPayload("", "alice", s.env.IdP.Users["alice"]),
			"<bind xmlns='urn:xmpp:bind:0'><tag>"+tag+"</tag>"+inline+"</bind>"))
		if ok.Bound == nil {
			t.Fatalf("%s: not bound", tag)
		}
		c.next() // features
		c.send("<presence/><iq type='get' id='" + tag + "'><ping xmlns='urn:xmpp:ping'/></iq>")
		c.untilIQ(t, tag) // presence handled before anyone talks to this resource
		return c, ok.AuthzID
	}
	a, _ := login("a", "<enable xmlns='urn:xmpp:carbons:2'/>")
	b, fullB := login("b", "")
	control, _ := login("c", "")

	sendMessage(t, bob, fullB, "to B from bob")
	b.nextMessage(t, "to B from bob")
	if cc := a.carbonsBefore(t, "a1"); len(cc) != 1 || cc[0].Received == nil ||
		cc[0].Received.Forwarded.Message.Body != "to B from bob" || cc[0].Received.Forwarded.Message.To != fullB {
		t.Fatalf("A got carbons %+v, want one <received/> of bob's message to %s", cc, fullB)
	}

	b.send("<message type='chat' to='" + s.jid("bob") + "'><body>to bob from B</body></message>")
	receive(t, bobIn.messages, "message from alice/B", func(v string) bool { return v == "to bob from B" })
	if cc := a.carbonsBefore(t, "a2"); len(cc) != 1 || cc[0].Sent == nil ||
		cc[0].Sent.Forwarded.Message.Body != "to bob from B" || cc[0].Sent.Forwarded.Message.From != fullB {
		t.Fatalf("A got carbons %+v, want one <sent/> of B's message to bob", cc)
	}
	if cc := control.carbonsBefore(t, "control"); len(cc) != 0 {
		t.Fatalf("a login without inline carbons got %d carbons", len(cc))
	}
}

// untilIQ reads elements up to the answer to iq id and returns those before it
// (presence from other resources may come first).
func (c *rawClient) untilIQ(t *testing.T, id string) []element {
	t.Helper()
	var before []element
	for range 32 {
		el := c.next()
		if el.XMLName.Local == "iq" && el.attr("id") == id {
			if el.attr("type") != "result" {
				t.Fatalf("iq %s: %s", id, el.Inner)
			}
			return before
		}
		before = append(before, el)
	}
	t.Fatalf("no answer to iq %s in 32 elements", id)
	return nil
}
