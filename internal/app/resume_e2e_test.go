package app_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestStreamResumptionThroughNewConnection: a client enables XEP-0198 resumption,
// loses its connection, and resumes the same session through a new proxied one.
func TestStreamResumptionThroughNewConnection(t *testing.T) {
	onEachServer(t, "", testStreamResumptionThroughNewConnection)
}

func testStreamResumptionThroughNewConnection(t *testing.T, s *stack) {
	pw := s.env.IdP.Users["alice"]

	c := s.loginPlain(t, "alice", pw)
	if f := c.open(s.domain()); !strings.Contains(f.Inner, "urn:xmpp:sm:3") {
		t.Fatalf("upstream offers no stream management: %s", f.Inner)
	}
	// A resource of its own: a session of an earlier run (-count) bounces its
	// unacknowledged stanzas to the same full JID when the server drops it.
	full := c.bind(fmt.Sprintf("phone-%d", time.Now().UnixNano()))
	c.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
	enabled := c.next()
	if enabled.XMLName.Local != "enabled" || enabled.attr("id") == "" {
		t.Fatalf("want <enabled id=...>, got <%s>%s", enabled.XMLName.Local, enabled.Inner)
	}
	c.send("<presence/>")
	c.conn.Close() // the phone loses its network: no </stream:stream>

	c2 := s.loginPlain(t, "alice", pw)
	c2.open(s.domain())
	c2.send("<resume xmlns='urn:xmpp:sm:3' h='0' previd='" + enabled.attr("id") + "'/>")
	resumed := c2.next()
	if resumed.XMLName.Local != "resumed" {
		t.Fatalf("want <resumed/>, got <%s>%s", resumed.XMLName.Local, resumed.Inner)
	}
	// The resumed session is the old one: a message to the old full JID arrives here.
	c2.send("<message to='" + full + "' type='chat'><body>still you</body></message>")
	// Presence of alice's other sessions (other tests', resumable for a while)
	// may come first.
	var seen []string
	for range 100 {
		el := c2.next()
		if el.XMLName.Local == "message" && strings.Contains(el.Inner, "still you") {
			c2.send("</stream:stream>") // ended, not left resumable for the next test
			return
		}
		seen = append(seen, el.XMLName.Local)
	}
	t.Fatalf("message to the resumed full JID never arrived; got %v", seen)
}
