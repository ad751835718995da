package proxy

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzAuthenticate feeds a client's SASL2 <authenticate/> (XEP-0388, with
// Bind2 and FAST children) through the pre-auth reader and the SASL2 parser:
// never a panic, and whatever is accepted respects the bounds, and the
// resource made from the Bind2 tag is clean.
func FuzzAuthenticate(f *testing.F) {
	f.Add([]byte("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>AGFsaWNlAHNlY3JldA==</initial-response>" +
		"<user-agent id='d4c2a9a4'><software>x</software><device>y</device></user-agent>" +
		"<bind xmlns='urn:xmpp:bind:0'><tag>phone</tag></bind><request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/></authenticate>"))
	f.Add([]byte("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-NONE'><initial-response>=</initial-response><fast xmlns='urn:xmpp:fast:0' count='7' invalidate='true'/></authenticate>"))
	f.Add([]byte("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='X'><bind xmlns='urn:xmpp:bind:0'><tag>a\tb&#x85;c</tag><tag>d</tag></bind></authenticate>"))
	f.Add([]byte("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>=</initial-response><config-version xmlns='urn:xmpp:iap:0' value='abc'/></authenticate>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sr := newStreamReader(bufio.NewReader(bytes.NewReader(data)), 4096)
		el, err := sr.next(inSASL)
		if err != nil || el.name.Space != nsSASL2 || el.name.Local != "authenticate" {
			return
		}
		req, err := parseAuthenticate(el)
		if err != nil {
			return
		}
		if req.mechanism == "" || req.count < -1 {
			t.Fatalf("accepted %+v", req)
		}
		ua := req.userAgent
		if len(ua.id) > maxUserAgentID || len(ua.software) > maxUserAgentField || len(ua.device) > maxUserAgentField {
			t.Fatalf("user agent too long: %+v", ua)
		}
		if req.bind == nil {
			return
		}
		res := bind2Resource(req.bind.tag)
		tag, random, ok := cutLast(res, ".")
		if !utf8.ValidString(res) || len(tag) > maxTagInResource || len(random) != 8 || !ok && tag != "" {
			t.Fatalf("resource %q from tag %q", res, req.bind.tag)
		}
		if strings.IndexFunc(res, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0 {
			t.Fatalf("resource %q has control or space characters", res)
		}
	})
}

// cutLast splits s around the last sep; without one, all of s is the second part.
func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return "", s, false
	}
	return s[:i], s[i+len(sep):], true
}
