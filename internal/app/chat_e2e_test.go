package app_test

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"strings"
	"testing"
	"time"

	gosrc "gosrc.io/xmpp"
	gosrcstanza "gosrc.io/xmpp/stanza"
	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// oauthBearer is a client OAUTHBEARER (RFC 7628) for mellium, which has none:
// the "password" given to xmpp.SASL is the access token.
var oauthBearer = sasl.Mechanism{
	Name: "OAUTHBEARER",
	Start: func(n *sasl.Negotiator) (bool, []byte, interface{}, error) {
		_, token, _ := n.Credentials()
		return false, []byte("n,,\x01auth=Bearer " + string(token) + "\x01\x01"), nil, nil
	},
	Next: func(n *sasl.Negotiator, challenge []byte, _ interface{}) (bool, []byte, interface{}, error) {
		return false, nil, nil, errors.New("server rejected the token: " + string(challenge))
	},
}

// inbox collects what a mellium session receives.
type inbox struct {
	messages chan string // bodies
	presence chan string // from
	iqs      chan string // JIDs in roster pushes
}

func newInbox() *inbox {
	return &inbox{messages: make(chan string, 16), presence: make(chan string, 16), iqs: make(chan string, 16)}
}

// melliumSession logs in through the proxy over Direct TLS with the given SASL
// mechanism and credential, binds resource, and serves incoming stanzas into an inbox.
func (s *stack) melliumSession(t *testing.T, user, resource, secret string, mech sasl.Mechanism) (*xmpp.Session, *inbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg := s.tlsConfig()
	cfg.NextProtos = []string{"xmpp-client"}
	conn, err := (&tls.Dialer{Config: cfg}).DialContext(ctx, "tcp", s.direct)
	if err != nil {
		t.Fatal(err)
	}
	origin := jid.MustParse(s.jid(user) + "/" + resource)
	sess, err := xmpp.NewClientSession(ctx, origin, conn, xmpp.SASL("", secret, mech), xmpp.BindResource())
	if err != nil {
		conn.Close()
		t.Fatalf("mellium login as %s: %v", user, err)
	}
	in := newInbox()
	go sess.Serve(xmpp.HandlerFunc(func(tr xmlstream.TokenReadEncoder, start *xml.StartElement) error {
		var v struct {
			Type   string `xml:"type,attr"`
			From   string `xml:"from,attr"`
			Body   string `xml:"body"`
			Roster []struct {
				JID string `xml:"jid,attr"`
			} `xml:"jabber:iq:roster query>item"`
		}
		// The handler's reader starts inside the element: put its start back first.
		if err := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), tr)).Decode(&v); err != nil {
			return err
		}
		switch start.Name.Local {
		case "message":
			if v.Body != "" {
				in.messages <- v.Body
			}
		case "presence":
			in.presence <- v.From
		case "iq":
			for _, item := range v.Roster {
				if v.Type == "set" {
					in.iqs <- item.JID
				}
			}
		}
		return nil
	}))
	t.Cleanup(func() { sess.Close(); conn.Close() })
	return sess, in
}

func sendMessage(t *testing.T, sess *xmpp.Session, to, body string) {
	t.Helper()
	msg := struct {
		stanza.Message
		Body string `xml:"body"`
	}{Message: stanza.Message{To: jid.MustParse(to), Type: stanza.ChatMessage}, Body: body}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sess.Encode(ctx, msg); err != nil {
		t.Fatal(err)
	}
}

func receive(t *testing.T, ch <-chan string, what string, match func(string) bool) string {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case v := <-ch:
			if match(v) {
				return v
			}
		case <-timeout:
			t.Fatalf("no %s arrived", what)
			return ""
		}
	}
}

// TestAliceAndBobChat: alice logs in with PLAIN through gosrc.io/xmpp over
// STARTTLS, bob with OAUTHBEARER through mellium over Direct TLS; they exchange
// messages and presence, all relayed to and from the real server.
func TestAliceAndBobChat(t *testing.T) { onEachServer(t, "", testAliceAndBobChat) }

func testAliceAndBobChat(t *testing.T, s *stack) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bobToken := idpToken(t, s.env, "bob")
	bob, bobIn := s.melliumSession(t, "bob", "mellium", bobToken, oauthBearer)
	// Initial presence: an unavailable resource gets no presence, not even directed.
	if err := bob.Send(ctx, stanza.Presence{}.Wrap(nil)); err != nil {
		t.Fatal(err)
	}

	aliceMessages := make(chan string, 16)
	alicePresence := make(chan string, 16)
	router := gosrc.NewRouter()
	router.HandleFunc("message", func(_ gosrc.Sender, p gosrcstanza.Packet) {
		if m, ok := p.(gosrcstanza.Message); ok && m.Body != "" {
			aliceMessages <- m.Body
		}
	})
	router.HandleFunc("presence", func(_ gosrc.Sender, p gosrcstanza.Packet) {
		if pr, ok := p.(gosrcstanza.Presence); ok {
			alicePresence <- pr.From
		}
	})
	alice, err := gosrc.NewClient(&gosrc.Config{
		TransportConfiguration: gosrc.TransportConfiguration{Address: s.starttls, TLSConfig: s.tlsConfig()},
		Jid:                    s.jid("alice") + "/gosrc",
		Credential:             gosrc.Password(s.env.IdP.Users["alice"]),
		ConnectTimeout:         15,
	}, router, func(err error) {})
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.Connect(); err != nil {
		t.Fatalf("gosrc.io/xmpp login as alice (PLAIN): %v", err)
	}
	defer alice.Disconnect()

	// The resources the server bound (it may pick its own).
	bobJID, aliceJID := bob.LocalAddr().String(), alice.Session.BindJid
	if !strings.HasPrefix(aliceJID, s.jid("alice")+"/") || !strings.HasPrefix(bobJID, s.jid("bob")+"/") {
		t.Fatalf("bound %q and %q", aliceJID, bobJID)
	}

	// Presence both ways (directed: no roster subscription needed).
	if err := alice.Send(gosrcstanza.Presence{Attrs: gosrcstanza.Attrs{To: bobJID}}); err != nil {
		t.Fatal(err)
	}
	receive(t, bobIn.presence, "presence from alice at bob", func(from string) bool { return strings.HasPrefix(from, s.jid("alice")+"/") })
	if err := bob.Send(ctx, stanza.Presence{To: jid.MustParse(aliceJID)}.Wrap(nil)); err != nil {
		t.Fatal(err)
	}
	receive(t, alicePresence, "presence from bob at alice", func(from string) bool { return strings.HasPrefix(from, s.jid("bob")+"/") })

	// Messages both ways.
	if err := alice.Send(gosrcstanza.Message{Attrs: gosrcstanza.Attrs{To: bobJID, Type: gosrcstanza.MessageTypeChat}, Body: "hello bob, from alice"}); err != nil {
		t.Fatal(err)
	}
	receive(t, bobIn.messages, "alice's message", func(b string) bool { return b == "hello bob, from alice" })
	sendMessage(t, bob, aliceJID, "hello alice, from bob")
	receive(t, aliceMessages, "bob's message", func(b string) bool { return b == "hello alice, from bob" })
}

// TestRosterPushReachesOtherResource: a roster change made on one of alice's
// resources is pushed by the server to her other resource, through the proxy.
func TestRosterPushReachesOtherResource(t *testing.T) {
	onEachServer(t, "", testRosterPushReachesOtherResource)
}

func testRosterPushReachesOtherResource(t *testing.T, s *stack) {
	pw := s.env.IdP.Users["alice"]
	first, _ := s.melliumSession(t, "alice", "first", pw, sasl.Plain)
	second, secondIn := s.melliumSession(t, "alice", "second", pw, sasl.Plain)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Fetching the roster makes the second resource "interested" in pushes.
	rosterGet := xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: "jabber:iq:roster", Local: "query"}})
	resp, err := second.SendIQElement(ctx, rosterGet, stanza.IQ{Type: stanza.GetIQ})
	if err != nil {
		t.Fatal(err)
	}
	resp.Close()

	contact := "carol-" + strings.ReplaceAll(time.Now().Format("150405.000"), ".", "") + "@" + s.domain()
	item := xmlstream.Wrap(
		xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Local: "item"}, Attr: []xml.Attr{{Name: xml.Name{Local: "jid"}, Value: contact}}}),
		xml.StartElement{Name: xml.Name{Space: "jabber:iq:roster", Local: "query"}},
	)
	resp, err = first.SendIQElement(ctx, item, stanza.IQ{Type: stanza.SetIQ})
	if err != nil {
		t.Fatal(err)
	}
	resp.Close()
	receive(t, secondIn.iqs, "roster push at the second resource", func(item string) bool { return item == contact })
}
