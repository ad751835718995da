package upstream

import (
	"encoding/xml"
	"testing"
)

// TestSubmitRefusal reads replies to a submitted form as ejabberd 23.01 sends
// them: conflict and item-not-found refuse the account; any other error (a
// setup problem) and a result are left to commandReply.
func TestSubmitRefusal(t *testing.T) {
	const cmd = "<command xmlns='http://jabber.org/protocol/commands' node='n'/>"
	cases := []struct {
		reply, cond, note string // cond "": not a refusal
	}{
		{"<iq type='error' id='a'>" + cmd + "<error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
			condConflict, "conflict"},
		{"<iq type='error' id='a'>" + cmd + "<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>" +
			"<text xml:lang='en' xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>No hook has processed this command</text></error></iq>",
			condItemNotFound, "item-not-found: No hook has processed this command"},
		{"<iq type='error' id='a'><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>", "", ""},
		{"<iq type='error' id='a'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>", "", ""},
		{"<iq type='result' id='a'><command xmlns='http://jabber.org/protocol/commands' node='n' status='completed'/></iq>", "", ""},
	}
	for _, c := range cases {
		var r iqReply
		if err := xml.Unmarshal([]byte(c.reply), &r); err != nil {
			t.Fatal(err)
		}
		ce := submitRefusal("n", &r)
		switch {
		case c.cond == "" && ce != nil:
			t.Errorf("%s: refusal %+v, want none", c.reply, ce)
		case c.cond != "" && (ce == nil || ce.Condition != c.cond || ce.Note != c.note):
			t.Errorf("%s: got %+v, want condition %q note %q", c.reply, ce, c.cond, c.note)
		}
	}
}
