package proxy

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/proxy/upstream"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

func TestStartTLSIsAllThatIsOfferedBeforeTLS(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(e.addr)
	c.send(clientHeader)
	got := c.expect("</stream:features>")
	if !strings.Contains(got, "from='example.com'") || !strings.Contains(got, "version='1.0'") {
		t.Errorf("header lacks from or version: %q", got)
	}
	want := "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>"
	if !strings.HasSuffix(got, want) {
		t.Errorf("features = %q, want suffix %q", got, want)
	}
	for _, m := range []string{"mechanism", "PLAIN", "OAUTHBEARER"} {
		if strings.Contains(got, m) {
			t.Errorf("%s offered before TLS: %q", m, got)
		}
	}
}

// TestSASLOfferedAfterStartTLS: after TLS, legacy SASL and SASL2 (with inline
// stream management and Bind2, itself with stream management and carbons)
// offer the same mechanisms.
func TestSASLOfferedAfterStartTLS(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(e.addr)
	c.startTLS(e.pool)
	got := c.seen.String()
	want := "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>OAUTHBEARER</mechanism><mechanism>PLAIN</mechanism></mechanisms>" +
		"<authentication xmlns='urn:xmpp:sasl:2'><mechanism>OAUTHBEARER</mechanism><mechanism>PLAIN</mechanism>" +
		"<inline><sm xmlns='urn:xmpp:sm:3'/><bind xmlns='urn:xmpp:bind:0'><inline><feature var='urn:xmpp:sm:3'/><feature var='urn:xmpp:carbons:2'/></inline></bind>" +
		"</inline></authentication>"
	got = configVersionRE.ReplaceAllString(got, "</stream:features>") // its own test: iap_test.go
	want += "</stream:features>"
	if !strings.HasSuffix(got, want) {
		t.Errorf("features after TLS: %q, want suffix %q", got, want)
	}
	if n := strings.Count(got, "<stream:stream"); n != 2 {
		t.Errorf("%d stream headers, want 2 (before and after TLS)", n)
	}
	e.certs.mu.Lock()
	names := e.certs.names
	e.certs.mu.Unlock()
	if len(names) != 1 || names[0] != testDomain {
		t.Errorf("certificate asked for %q, want [%s]", names, testDomain)
	}
}

func TestSTARTTLSWithoutSNIPicksCertificateByStreamDomain(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(e.addr)
	c.send(clientHeader)
	c.expect("</stream:features>")
	c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	c.expect("<proceed")
	// No ServerName: crypto/tls sends no SNI.
	tc := tls.Client(c.conn, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	e.certs.mu.Lock()
	defer e.certs.mu.Unlock()
	if len(e.certs.names) != 1 || e.certs.names[0] != testDomain {
		t.Errorf("certificate asked for %q, want [%s]", e.certs.names, testDomain)
	}
}

func TestLoginOverSTARTTLS(t *testing.T) {
	e := newEnv(t, nil)
	c := e.login()
	c.send(clientHeader)
	c.expect(upstreamFeatures)
	logins := e.up.loginList()
	if len(logins) != 1 || logins[0].Username != "juliet" || logins[0].Password != "s3cret" || logins[0].Token != "tok-juliet" {
		t.Errorf("upstream logins = %+v", logins)
	}
}

func TestLoginOverDirectTLS(t *testing.T) {
	e := newEnv(t, nil)
	c, st := e.directTLS()
	if st.NegotiatedProtocol != "xmpp-client" {
		t.Errorf("ALPN = %q, want xmpp-client", st.NegotiatedProtocol)
	}
	if !strings.Contains(c.seen.String(), "<mechanism>PLAIN</mechanism>") || strings.Contains(c.seen.String(), "starttls") {
		t.Errorf("direct TLS features: %q", c.seen.String())
	}
	c.send(plainAuth("juliet", "s3cret"))
	c.expect("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
	c.send(clientHeader)
	c.expect(upstreamFeatures)
}

func TestOAuthBearer(t *testing.T) {
	e := newEnv(t, nil)
	bearer := func(token string) string {
		msg := "n,,\x01auth=Bearer " + token + "\x01\x01"
		return "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='OAUTHBEARER'>" + b64(msg) + "</auth>"
	}
	c := e.dial(e.addr)
	c.startTLS(e.pool)

	// A bad token: the RFC 7628 error challenge, the client's 0x01, then the failure.
	c.send(bearer("bad-token"))
	got := c.expect("</challenge>")
	if !strings.Contains(got, "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>") {
		t.Fatalf("no challenge: %q", got)
	}
	c.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>AQ==</response>")
	c.expect(saslFailureXML("not-authorized"))

	c.send(bearer("good-token"))
	c.expect("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
	logins := e.up.loginList()
	if len(logins) != 1 || logins[0].Username != "juliet" || logins[0].Token != "good-token" || logins[0].Password != "" {
		t.Errorf("upstream logins = %+v", logins)
	}
}

func TestPlainBeforeTLSIsRefused(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(e.addr)
	c.send(clientHeader)
	c.expect("</stream:features>")
	c.send(plainAuth("juliet", "s3cret"))
	got := c.rest()
	if !strings.Contains(got, streamErrorXML("policy-violation")) || !strings.HasSuffix(got, "</stream:stream>") {
		t.Errorf("got %q, want policy-violation and the closing tag", got)
	}
	if n := e.auth.callCount(); n != 0 {
		t.Errorf("authenticator asked %d times before TLS", n)
	}
}

func TestDataPipelinedAfterStartTLSIsRefused(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(e.addr)
	c.send(clientHeader + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" + plainAuth("juliet", "s3cret"))
	got := c.rest()
	if strings.Contains(got, "<proceed") || !strings.Contains(got, streamErrorXML("policy-violation")) {
		t.Errorf("got %q, want policy-violation and no proceed", got)
	}
}

func TestStreamHeaderErrors(t *testing.T) {
	cases := []struct {
		name, header, cond string
		from               bool // our header names the domain
	}{
		{"unknown host", "<stream:stream to='other.example' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", "host-unknown", false},
		{"no to", "<stream:stream version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", "host-unknown", false},
		{"old version", "<stream:stream to='example.com' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", "unsupported-version", true},
		{"server namespace", "<stream:stream to='example.com' version='1.0' xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>", "invalid-namespace", true},
		{"stream namespace", "<stream:stream to='example.com' version='1.0' xmlns='jabber:client' xmlns:stream='urn:wrong'>", "invalid-namespace", true},
		{"not a stream", "<html to='example.com' version='1.0' xmlns='jabber:client'>", "invalid-namespace", true},
		{"garbage", "HELO example.com\r\n", "bad-format", false},
		{"broken xml", "<stream:stream to='example.com' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><a></b>", "not-well-formed", true},
		{"unknown entity", "<stream:stream to='example.com' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>&xxe;</starttls>", "not-well-formed", true},
		{"stanza before tls", clientHeader + "<iq type='get' id='1'><query xmlns='jabber:iq:version'/></iq>", "policy-violation", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			c := e.dial(e.addr)
			c.send(tc.header)
			got := c.rest()
			if !strings.HasPrefix(got, "<?xml version='1.0'?><stream:stream ") {
				t.Errorf("no header of ours first: %q", got)
			}
			if has := strings.Contains(got, "from='example.com'"); has != tc.from {
				t.Errorf("from in our header = %v, want %v: %q", has, tc.from, got)
			}
			if !strings.Contains(got, streamErrorXML(tc.cond)) || !strings.HasSuffix(got, "</stream:error></stream:stream>") {
				t.Errorf("got %q, want stream error %s and the closing tag", got, tc.cond)
			}
		})
	}
}

// TestWellFormednessBeforeMeaning: an element the proxy would refuse anyway is
// judged as XML first: an undeclared entity or mismatched tag inside it is
// not-well-formed, a comment restricted-xml, whatever element carries it.
func TestWellFormednessBeforeMeaning(t *testing.T) {
	for _, tc := range []struct{ el, want string }{
		{"<message to='x'><body>&foo;</body></message>", "not-well-formed"},
		{"<iq type='get' id='1'>&foo;</iq>", "not-well-formed"},
		{"<presence><x></y></presence>", "not-well-formed"},
		{"<presence><!-- c --></presence>", "restricted-xml"},
		{"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>&foo;</auth>", "not-well-formed"},
	} {
		e := newEnv(t, nil)
		c := e.dial(e.addr)
		c.startTLS(e.pool)
		c.send(tc.el)
		if got := c.rest(); !strings.Contains(got, streamErrorXML(tc.want)) {
			t.Errorf("%s: got %q, want %s", tc.el, got, tc.want)
		}
	}
}

func TestElementsOutOfPlaceAfterTLS(t *testing.T) {
	cases := []struct{ name, send, cond string }{
		{"stanza before auth", "<message to='romeo@example.com'><body>hi</body></message>", "not-authorized"},
		{"unknown element", "<foo xmlns='urn:example'/>", "unsupported-stanza-type"},
		{"starttls again", "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", "unsupported-stanza-type"},
		{"text", "hello<", "bad-format"},
		{"nested stream", strings.TrimPrefix(clientHeader, "<?xml version='1.0'?>"), "unsupported-stanza-type"},
		{"xml declaration", clientHeader, "restricted-xml"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			c := e.dial(e.addr)
			c.startTLS(e.pool)
			c.send(tc.send)
			if got := c.rest(); !strings.Contains(got, streamErrorXML(tc.cond)) || !strings.HasSuffix(got, "</stream:stream>") {
				t.Errorf("got %q, want %s", got, tc.cond)
			}
		})
	}
}

func TestRestrictedXML(t *testing.T) {
	cases := map[string]string{
		"comment first":      "<!-- hi -->" + clientHeader,
		"comment in stream":  clientHeader + "<!-- hi -->",
		"comment in element": clientHeader + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><!-- x --></starttls>",
		"pi":                 clientHeader + "<?php echo 1; ?>",
		"second xml decl":    "<?xml version='1.0'?>" + clientHeader + "<?xml version='1.0'?>",
		"dtd":                "<?xml version='1.0'?><!DOCTYPE stream [<!ENTITY a 'aaaa'>]>" + clientHeader,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil)
			c := e.dial(e.addr)
			c.send(in)
			got := c.rest()
			if !strings.Contains(got, streamErrorXML("restricted-xml")) {
				t.Errorf("got %q, want restricted-xml", got)
			}
		})
	}
}

func TestOversizeElement(t *testing.T) {
	e := newEnv(t, nil, func(c *Config) { c.MaxElementBytes = 1024 })
	c := e.dial(e.addr)
	c.startTLS(e.pool)
	c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + strings.Repeat("QUFB", 400) + "</auth>")
	got := c.rest()
	if !strings.Contains(got, streamErrorXML("policy-violation")) {
		t.Errorf("got %q, want policy-violation", got)
	}
	if n := e.auth.callCount(); n != 0 {
		t.Errorf("authenticator asked %d times", n)
	}
}

func TestEndlessWhitespaceIsBounded(t *testing.T) {
	e := newEnv(t, nil, func(c *Config) { c.MaxElementBytes = 1024 })
	c := e.dial(e.addr)
	c.send(clientHeader)
	c.expect("</stream:features>")
	go func() {
		for i := 0; i < 100; i++ {
			if _, err := c.conn.Write([]byte(strings.Repeat(" ", 512))); err != nil {
				return
			}
		}
	}()
	if got := c.rest(); !strings.Contains(got, streamErrorXML("policy-violation")) {
		t.Errorf("got %q, want policy-violation", got)
	}
}

func TestManySmallElementsAreBounded(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(e.addr)
	c.startTLS(e.pool)
	// Aborts outside an exchange are answered; the attempt limit ends them first.
	go func() { // the server hangs up long before the end
		_, _ = c.conn.Write([]byte(strings.Repeat("<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>", 10000)))
	}()
	got := c.rest()
	if n := strings.Count(got, saslFailureXML("aborted")); n != DefaultMaxAuthAttempts {
		t.Errorf("%d aborted failures, want %d", n, DefaultMaxAuthAttempts)
	}
	if !strings.Contains(got, streamErrorXML("policy-violation")) {
		t.Errorf("got %q, want policy-violation", got)
	}
}

func TestPreAuthTimeout(t *testing.T) {
	e := newEnv(t, nil, func(c *Config) { c.PreAuthTimeout = 300 * time.Millisecond })
	c := e.dial(e.addr)
	c.send(clientHeader)
	got := c.rest()
	if !strings.Contains(got, streamErrorXML("connection-timeout")) {
		t.Errorf("got %q, want connection-timeout", got)
	}
}

func TestPreAuthTimeoutDuringTLSHandshake(t *testing.T) {
	e := newEnv(t, nil, func(c *Config) { c.PreAuthTimeout = 300 * time.Millisecond })
	c := e.dial(e.tlsAddr)
	// No ClientHello: the server must give up and close.
	if got := c.rest(); got != "" {
		t.Errorf("got %q from a handshake that never began", got)
	}
}

func TestSASLFailures(t *testing.T) {
	cases := []struct {
		name, send, cond string
	}{
		{"malformed base64", "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%%%not base64</auth>", "malformed-request"},
		{"invalid mechanism", "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'>=</auth>", "invalid-mechanism"},
		{"no mechanism", "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>=</auth>", "invalid-mechanism"},
		{"wrong password", plainAuth("juliet", "nope"), "not-authorized"},
		{"abort", "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'/><abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>", "aborted"},
		{"stray response", "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>AA==</response>", "malformed-request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			c := e.dial(e.addr)
			c.startTLS(e.pool)
			c.send(tc.send)
			c.expect(saslFailureXML(tc.cond))
			// The connection survives one failure: a right login follows.
			c.send(plainAuth("juliet", "s3cret"))
			c.expect("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
		})
	}
}

func TestPlainWithoutInitialResponse(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(e.addr)
	c.startTLS(e.pool)
	c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'/>")
	c.expect("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>=</challenge>")
	c.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + b64("\x00juliet\x00s3cret") + "</response>")
	c.expect("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
}

func TestAttemptLimit(t *testing.T) {
	e := newEnv(t, nil, func(c *Config) { c.MaxAuthAttempts = 3 })
	c := e.dial(e.addr)
	c.startTLS(e.pool)
	for i := 0; i < 2; i++ {
		c.send(plainAuth("juliet", "wrong"))
		c.expect(saslFailureXML("not-authorized"))
	}
	c.send(plainAuth("juliet", "wrong"))
	got := c.rest()
	if !strings.Contains(got, saslFailureXML("not-authorized")) || !strings.Contains(got, streamErrorXML("policy-violation")) {
		t.Errorf("third failure: %q, want failure then policy-violation", got)
	}
}

func TestUpstreamFailures(t *testing.T) {
	cases := []struct {
		err  error
		cond string
	}{
		{upstream.ErrUnavailable, "temporary-auth-failure"},
		{errors.New("something odd"), "temporary-auth-failure"},
		{upstream.ErrRejected, "not-authorized"},
	}
	for _, tc := range cases {
		t.Run(tc.cond+"/"+tc.err.Error(), func(t *testing.T) {
			e := newEnv(t, nil)
			e.up.setErr(tc.err)
			c := e.dial(e.addr)
			c.startTLS(e.pool)
			c.send(plainAuth("juliet", "s3cret"))
			got := c.expect("</failure>")
			if !strings.Contains(got, saslFailureXML(tc.cond)) || strings.Contains(got, "<success") {
				t.Fatalf("got %q, want %s", got, tc.cond)
			}
			// The upstream is back: the client's retry works.
			e.up.setErr(nil)
			c.send(plainAuth("juliet", "s3cret"))
			c.expect("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
		})
	}
}

func TestClientClosesPreAuthStream(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(e.addr)
	c.send(clientHeader)
	c.expect("</stream:features>")
	c.send("</stream:stream>")
	if got := c.rest(); got != "</stream:stream>" {
		t.Errorf("got %q, want our closing tag", got)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cert, _ := certificate(t)
	good := func() Config {
		return Config{
			Domains:      []Domain{{Name: testDomain, SASL: saslFor(), Upstream: &fakeUpstream{}}},
			Certificates: &certSource{cert: cert},
		}
	}
	if _, err := New(good()); err != nil {
		t.Fatalf("good config: %v", err)
	}
	bad := map[string]func(*Config){
		"no domains":      func(c *Config) { c.Domains = nil },
		"no certificates": func(c *Config) { c.Certificates = nil },
		"duplicate": func(c *Config) {
			c.Domains = append(c.Domains, Domain{Name: "EXAMPLE.com", SASL: saslFor(), Upstream: &fakeUpstream{}})
		},
		"no upstream":   func(c *Config) { c.Domains[0].Upstream = nil },
		"no mechanisms": func(c *Config) { c.Domains[0].SASL.AllowPlain = false },
		"sasl domain":   func(c *Config) { c.Domains[0].SASL.Domain = "other.example" },
		"ipv6 prefix":   func(c *Config) { c.Limits.IPv6PrefixBits = 129 },
		"no ipv6 limit": func(c *Config) { c.Limits.IPv6PrefixBits = -1 }, // would leave IPv6 clients unlimited
	}
	for name, mutate := range bad {
		cfg := good()
		mutate(&cfg)
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
}

func saslFor() saslauth.Config {
	return saslauth.Config{Authenticator: &fakeAuth{}, AllowPlain: true}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
