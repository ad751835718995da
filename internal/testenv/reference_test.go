package testenv

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// sasl2Features is the SASL2 part of the post-TLS features.
type sasl2Features struct {
	Mechanisms []string `xml:"urn:xmpp:sasl:2 authentication>mechanism"`
	Inline     struct {
		Bind *struct {
			Features []struct {
				Var string `xml:"var,attr"`
			} `xml:"inline>feature"`
		} `xml:"urn:xmpp:bind:0 bind"`
		FAST []string  `xml:"urn:xmpp:fast:0 fast>mechanism"`
		SM   *struct{} `xml:"urn:xmpp:sm:3 sm"`
	} `xml:"urn:xmpp:sasl:2 authentication>inline"`
}

type sasl2Success struct {
	AuthzID string `xml:"authorization-identifier"`
	Bound   *struct {
		Enabled *struct {
			ID     string `xml:"id,attr"`
			Resume string `xml:"resume,attr"`
		} `xml:"urn:xmpp:sm:3 enabled"`
	} `xml:"urn:xmpp:bind:0 bound"`
	Token *struct {
		Token string `xml:"token,attr"`
	} `xml:"urn:xmpp:fast:0 token"`
}

// TestReferenceProsodySASL2: the reference Prosody offers SASL2 with Bind2,
// FAST and inline SM (mod_sasl2 fails the offer on a stock 0.12 without our
// glue), and one <authenticate/> logs in, binds tag~id, enables SM inline and
// returns a FAST token.
func TestReferenceProsodySASL2(t *testing.T) {
	p := RequireReferenceProsody(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("reference prosody log:\n%s", p.LogTail())
		}
	})
	user, pw := "ref."+randomSecret()[:8], randomSecret()
	if err := p.Register(testCtx(t), user, pw); err != nil {
		t.Fatal(err)
	}
	for _, direct := range []bool{true, false} {
		t.Run(fmt.Sprintf("directTLS=%v", direct), func(t *testing.T) {
			// FAST is offered only to a stream that names its user (from=).
			c, f := dialXMPPFrom(t, &p.ServerInfo, direct, user+"@"+p.Domain)
			b := f.Inline.Bind
			if !slices.Contains(f.Mechanisms, "PLAIN") || b == nil || f.Inline.SM == nil ||
				!slices.Contains(f.Inline.FAST, "HT-SHA-256-NONE") ||
				!slices.ContainsFunc(b.Features, func(x struct {
					Var string `xml:"var,attr"`
				}) bool {
					return x.Var == "urn:xmpp:sm:3"
				}) {
				t.Fatalf("SASL2 features: %+v", f)
			}
			c.send("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>" +
				base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pw)) + "</initial-response>" +
				"<user-agent id='d9c1f0e2-8b7a-4c6d-9e5f-1a2b3c4d5e6f'/>" +
				"<bind xmlns='urn:xmpp:bind:0'><tag>ref</tag><enable xmlns='urn:xmpp:sm:3' resume='true'/></bind>" +
				"<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/></authenticate>")
			var ok sasl2Success
			if name := c.next(&ok); name.Local != "success" {
				t.Fatalf("got <%s>, want SASL2 success", name.Local)
			}
			if !strings.HasPrefix(ok.AuthzID, user+"@"+p.Domain+"/ref~") || ok.Bound == nil ||
				ok.Bound.Enabled == nil || ok.Bound.Enabled.ID == "" || ok.Token == nil || ok.Token.Token == "" {
				t.Fatalf("SASL2 success: %+v", ok)
			}
		})
	}
}
