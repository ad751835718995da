package app_test

import (
	"strings"
	"testing"
	"time"

	goxmpp "github.com/xmppo/go-xmpp"
	"mellium.im/sasl"
	"mellium.im/xmpp"
	"mellium.im/xmpp/stanza"
)

// goXMPPOptions are go-xmpp v0.4.1's options for logging in through the proxy;
// it speaks SASL2 and Bind2 whenever they are offered over TLS.
func (s *stack) goXMPPOptions(user, secret string, direct bool) goxmpp.Options {
	o := goxmpp.Options{
		Host: s.direct, User: s.jid(user), Password: secret,
		TLSConfig:   s.tlsConfig(), // ServerName is required by go-xmpp
		UserAgentSW: "go-xmpp-test", UserAgentDev: "ci",
		UserAgentID: "0b0d3a3e-6a0e-4f59-9a57-4c1f4a2d5e01",
		DialTimeout: 10 * time.Second,
	}
	if !direct {
		o.Host, o.NoTLS, o.StartTLS = s.starttls, true, true
	}
	return o
}

// TestGoXMPPSASL2Bind2: go-xmpp v0.4.1, an independent SASL2 client, logs in
// as alice through the proxy over Direct TLS and STARTTLS with SASL2 PLAIN
// and Bind2; the JID it is told carries its tag and a random part; a message
// goes to bob (mellium, legacy SASL) and bob's answer comes back.
func TestGoXMPPSASL2Bind2(t *testing.T) {
	for _, v := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"} {
		t.Setenv(v, "") // go-xmpp dials through a proxy named there
	}
	s := startStack(t, "")
	bob, bobIn := s.melliumSession(t, "bob", "desk", s.env.IdP.Users["bob"], sasl.Plain)
	if err := bob.Send(t.Context(), stanza.Presence{}.Wrap(nil)); err != nil {
		t.Fatal(err)
	}
	for _, direct := range []bool{true, false} {
		c, err := s.goXMPPOptions("alice", s.env.IdP.Users["alice"], direct).NewClient()
		if err != nil {
			t.Fatalf("go-xmpp login (direct TLS %v): %v", direct, err)
		}
		if !strings.HasPrefix(c.JID(), s.jid("alice")+"/go-xmpp-test.") {
			t.Fatalf("go-xmpp was told JID %q, want alice's with the Bind2 tag", c.JID())
		}
		goXMPPChat(t, s, c, bob, bobIn, "over SASL2")
	}
}

// goXMPPChat sends a message from c to bob, waits for bob's answer, and ends
// c's stream.
func goXMPPChat(t *testing.T, s *stack, c *goxmpp.Client, bob *xmpp.Session, bobIn *inbox, how string) {
	t.Helper()
	text := "hello from go-xmpp " + how + " " + c.JID()
	if _, _, err := c.Send(goxmpp.Chat{Remote: s.jid("bob"), Type: "chat", Text: text}); err != nil {
		t.Fatal(err)
	}
	receive(t, bobIn.messages, "go-xmpp's message", func(b string) bool { return b == text })
	sendMessage(t, bob, c.JID(), "reply to "+c.JID())
	chats := goXMPPChats(c)
	receive(t, chats, "bob's reply", func(b string) bool { return b == "reply to "+c.JID() })
	closeGoXMPP(t, c, chats)
}

// closeGoXMPP ends c's stream; chats is goXMPPChats(c). go-xmpp's Close reads
// the stream's end itself, racing with Recv: end the stream, let Recv see
// its end, then close.
func closeGoXMPP(t *testing.T, c *goxmpp.Client, chats <-chan string) {
	t.Helper()
	if _, err := c.SendOrg("</stream:stream>"); err != nil {
		t.Fatal(err)
	}
	for range chats {
	}
	c.Close()
}

// goXMPPChats delivers the bodies of the chats c receives until it ends.
func goXMPPChats(c *goxmpp.Client) <-chan string {
	ch := make(chan string, 16)
	go func() {
		defer close(ch)
		for {
			st, err := c.Recv()
			if err != nil {
				return
			}
			if m, ok := st.(goxmpp.Chat); ok && m.Text != "" {
				ch <- m.Text
			}
		}
	}()
	return ch
}
