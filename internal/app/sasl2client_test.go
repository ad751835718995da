package app_test

import (
	"encoding/base64"
	"encoding/xml"
	"testing"
)

// SASL2 (XEP-0388) by hand, for what client libraries hide: exact conditions,
// what <success/> carries, the features that follow.

// sasl2Success is the parts of a SASL2 <success/> the tests look at.
type sasl2Success struct {
	AuthzID string    `xml:"authorization-identifier"`
	Bound   *struct{} `xml:"urn:xmpp:bind:0 bound"`
	Data    string    `xml:"additional-data"`
	Token   *struct {
		Token  string `xml:"token,attr"`
		Expiry string `xml:"expiry,attr"`
	} `xml:"urn:xmpp:fast:0 token"`
}

// authenticate2 sends a SASL2 <authenticate/> with an initial response and
// extra children (user-agent, bind, ...), and returns the answer.
func (c *rawClient) authenticate2(mech string, payload []byte, extra string) element {
	c.t.Helper()
	c.send(authenticate2XML(mech, payload, extra))
	return c.next()
}

func authenticate2XML(mech string, payload []byte, extra string) string {
	ir := ""
	if payload != nil {
		enc := base64.StdEncoding.EncodeToString(payload)
		if enc == "" {
			enc = "="
		}
		ir = "<initial-response>" + enc + "</initial-response>"
	}
	return "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='" + mech + "'>" + ir + extra + "</authenticate>"
}

// wantSASL2Success checks el is a SASL2 <success/> and returns what it carries.
func wantSASL2Success(t testing.TB, el element) sasl2Success {
	t.Helper()
	if el.XMLName.Space != "urn:xmpp:sasl:2" || el.XMLName.Local != "success" {
		t.Fatalf("want SASL2 success, got <%s xmlns='%s'>%s", el.XMLName.Local, el.XMLName.Space, el.Inner)
	}
	var s sasl2Success
	if err := xml.Unmarshal([]byte("<success xmlns='urn:xmpp:sasl:2'>"+el.Inner+"</success>"), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// wantSASL2Failure checks el is a SASL2 <failure/> with the RFC 6120 condition
// cond in the legacy SASL namespace.
func wantSASL2Failure(t testing.TB, el element, cond string) {
	t.Helper()
	var f struct {
		Conds []struct{ XMLName xml.Name } `xml:",any"`
	}
	_ = xml.Unmarshal([]byte("<failure>"+el.Inner+"</failure>"), &f)
	if el.XMLName.Space != "urn:xmpp:sasl:2" || el.XMLName.Local != "failure" || len(f.Conds) == 0 ||
		f.Conds[0].XMLName != (xml.Name{Space: "urn:ietf:params:xml:ns:xmpp-sasl", Local: cond}) {
		t.Fatalf("want SASL2 failure %s, got <%s xmlns='%s'>%s", cond, el.XMLName.Local, el.XMLName.Space, el.Inner)
	}
}
