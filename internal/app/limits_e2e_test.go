package app_test

import (
	"strings"
	"testing"
)

// TestStanzaSizeThroughRelay: after login the proxy no longer limits elements
// (the server does): a 150 KB message reaches the other user intact, and a
// stanza over the server's own limit (256 KiB on both) ends the session with
// the server's stream error, relayed to the client.
func TestStanzaSizeThroughRelay(t *testing.T) { onEachServer(t, "", testStanzaSizeThroughRelay) }

func testStanzaSizeThroughRelay(t *testing.T, s *stack) {
	alice := s.loginPlain(t, "alice", s.env.IdP.Users["alice"])
	alice.open(s.domain())
	alice.bind("big")
	bob := s.loginPlain(t, "bob", s.env.IdP.Users["bob"])
	bob.open(s.domain())
	bobJID := bob.bind("big")

	body := strings.Repeat("0123456789", 15000) // 150 KB
	alice.send("<message to='" + bobJID + "' type='chat'><body>" + body + "</body></message>")
	for i := 0; ; i++ {
		el := bob.next()
		if el.XMLName.Local == "message" && strings.Contains(el.Inner, body) {
			break
		}
		if i == 10 {
			t.Fatal("the 150 KB message never arrived whole")
		}
	}

	alice.send("<message to='" + bobJID + "' type='chat'><body>" + strings.Repeat(body, 2) + "</body></message>")
	for i := 0; ; i++ {
		el, err := alice.tryNext()
		if err != nil {
			t.Fatalf("no stream error before the stream ended: %v", err)
		}
		if el.XMLName.Local == "error" {
			if el.child() != "policy-violation" {
				t.Fatalf("stream error %s, want policy-violation", el.Inner)
			}
			return
		}
		if i == 10 {
			t.Fatal("no stream error for a 300 KB stanza")
		}
	}
}
