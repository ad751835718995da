package proxy

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
)

var configVersionRE = regexp.MustCompile(`<config-version xmlns='urn:xmpp:iap:0' value='([A-Za-z0-9_-]+)'/></stream:features>`)

// offeredConfigVersion is the XEP-0509 version in the last features seen.
func offeredConfigVersion(t *testing.T, features string) string {
	t.Helper()
	m := configVersionRE.FindAllStringSubmatch(features, -1)
	if len(m) == 0 {
		t.Fatalf("no config-version in %s", features)
	}
	return m[len(m)-1][1]
}

func sasl2Plain(extra string) string {
	return "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>" +
		plainPayloadB64("juliet", "s3cret") + "</initial-response><bind xmlns='urn:xmpp:bind:0'><tag>t</tag></bind>" + extra + "</authenticate>"
}

func plainPayloadB64(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

// TestIAPPipelinedAuthenticate: the features carry a config version, the same
// for connections with the same TLS; a client that cached it sends its stream
// header and <authenticate/> in one write right after the TLS handshake and
// gets the features and <success/> in one answer.
func TestIAPPipelinedAuthenticate(t *testing.T) {
	e := newEnv(t, answerBind, withFAST(&fakeFAST{token: "tok"}))
	first, _ := e.directTLS()
	version := offeredConfigVersion(t, first.seen.String())
	second, _ := e.directTLS()
	if v := offeredConfigVersion(t, second.seen.String()); v != version {
		t.Fatalf("config version %q then %q for the same features", version, v)
	}

	c := e.dial(e.tlsAddr)
	tc := tls.Client(c.conn, &tls.Config{ServerName: testDomain, RootCAs: e.pool, NextProtos: []string{"xmpp-client"}})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.conn, c.br = tc, bufio.NewReader(tc)
	c.send(clientHeader + sasl2Plain("<config-version xmlns='urn:xmpp:iap:0' value='"+version+"'/>"))
	c.expect("</stream:features>")
	got := c.expect("<authorization-identifier>juliet@example.com/r.1</authorization-identifier>")
	if !strings.Contains(got, "<success xmlns='urn:xmpp:sasl:2'>") {
		t.Fatalf("pipelined authenticate: %s", got)
	}
}

// TestIAPStaleVersion: an <authenticate/> that assumed other features fails
// "without prejudice" (aborted, config-version-mismatch): it does not use up
// the login attempts (one here), and the client may go on with a fresh one;
// past a few stale attempts the stream ends.
func TestIAPStaleVersion(t *testing.T) {
	e := newEnv(t, answerBind, func(c *Config) { c.MaxAuthAttempts = 1 })
	c, _ := e.directTLS()
	version := offeredConfigVersion(t, c.seen.String())
	c.send(sasl2Plain("<config-version xmlns='urn:xmpp:iap:0' value='stale'/>"))
	c.expect("<failure xmlns='urn:xmpp:sasl:2'><aborted xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/><config-version-mismatch xmlns='urn:xmpp:iap:0'/>")
	c.send(sasl2Plain("<config-version xmlns='urn:xmpp:iap:0' value='" + version + "'/>"))
	c.expect("<success xmlns='urn:xmpp:sasl:2'>")

	d, _ := e.directTLS()
	for range maxIAPMismatches {
		d.send(sasl2Plain("<config-version xmlns='urn:xmpp:iap:0' value='stale'/>"))
		d.expect("<config-version-mismatch xmlns='urn:xmpp:iap:0'/>")
	}
	d.send(sasl2Plain("<config-version xmlns='urn:xmpp:iap:0' value='stale'/>"))
	d.expect(streamErrorXML(condPolicyViolation))
}
