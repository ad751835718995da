package proxy

import (
	"fmt"
	"strings"
	"testing"
)

// manyAttrs is an element with n distinct attributes.
func manyAttrs(name string, n int) string {
	var b strings.Builder
	b.WriteString("<" + name + " xmlns='urn:ietf:params:xml:ns:xmpp-tls'")
	for i := range n {
		fmt.Fprintf(&b, " a%d='x'", i)
	}
	return b.String() + "/>"
}

// Before authentication the XML is bounded in every dimension, not only in bytes:
// duplicate attributes are not well-formed (XML 1.0, "Unique Att Spec"), and
// attribute counts and nesting depth are capped.
func TestPreAuthXMLShape(t *testing.T) {
	const hdr = "<stream:stream version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
	cases := []struct{ name, send, cond string }{
		{"duplicate attribute in header", hdr + " to='example.com' to='example.com'>", "not-well-formed"},
		{"duplicate namespaced attribute", hdr + " to='example.com' xmlns:a='urn:x' xmlns:b='urn:x' a:k='1' b:k='2'>", "not-well-formed"},
		{"duplicate attribute in element", clientHeader + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls' a='1' a='2'/>", "not-well-formed"},
		{"many attributes in header", strings.TrimSuffix(manyAttrs("stream:stream", 200), "/>") + " to='example.com' version='1.0' xmlns:stream='http://etherx.jabber.org/streams'>", "policy-violation"},
		{"many attributes in element", clientHeader + manyAttrs("starttls", 200), "policy-violation"},
		{"deep nesting", clientHeader + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>" + strings.Repeat("<a>", 1000), "policy-violation"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			c := e.dial(e.addr)
			c.send(tc.send)
			got := c.rest()
			if !strings.Contains(got, streamErrorXML(tc.cond)) || !strings.HasSuffix(got, "</stream:stream>") {
				t.Errorf("got %q, want stream error %s", got, tc.cond)
			}
			if strings.Contains(got, "<proceed") {
				t.Errorf("the element was acted on: %q", got)
			}
		})
	}
}
