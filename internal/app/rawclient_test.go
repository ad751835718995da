package app_test

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// rawClient speaks XMPP byte by byte, for what client libraries hide: exact SASL
// conditions, challenges, stream errors, stream management.
type rawClient struct {
	t    testing.TB
	conn net.Conn
	dec  *xml.Decoder
}

// element is any top-level element, kept as its name, attributes and inner XML.
type element struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Inner   string     `xml:",innerxml"`
}

func (e element) attr(name string) string {
	for _, a := range e.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// child is the local name of the first child element ("" if none).
func (e element) child() string {
	d := xml.NewDecoder(strings.NewReader(e.Inner))
	for {
		tok, err := d.Token()
		if err != nil {
			return ""
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name.Local
		}
	}
}

// dialRaw connects and negotiates TLS (STARTTLS or direct), leaving the client at
// the post-TLS features, which it returns.
func (s *stack) dialRaw(t testing.TB, direct bool) (*rawClient, element) {
	t.Helper()
	if direct {
		return s.dialRawTLS(t, s.tlsConfig())
	}
	conn, err := net.DialTimeout("tcp", s.starttls, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := newRaw(t, conn)
	f := c.open(s.env.Prosody.Domain)
	if !strings.Contains(f.Inner, "starttls") {
		t.Fatalf("no starttls offered: %s", f.Inner)
	}
	c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	if el := c.next(); el.XMLName.Local != "proceed" {
		t.Fatalf("want proceed, got %s", el.XMLName.Local)
	}
	c = c.upgrade(s)
	return c, c.open(s.env.Prosody.Domain)
}

// dialRawTLS is dialRaw over Direct TLS with the client config cfg.
func (s *stack) dialRawTLS(t testing.TB, cfg *tls.Config) (*rawClient, element) {
	t.Helper()
	cfg.NextProtos = []string{"xmpp-client"}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.direct, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := newRaw(t, conn)
	return c, c.open(s.env.Prosody.Domain)
}

// upgrade runs the TLS handshake after <proceed/>.
func (c *rawClient) upgrade(s *stack) *rawClient {
	c.t.Helper()
	tc := tls.Client(c.conn, s.tlsConfig())
	if err := tc.Handshake(); err != nil {
		c.t.Fatal(err)
	}
	return newRaw(c.t, tc)
}

func newRaw(t testing.TB, conn net.Conn) *rawClient {
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	return &rawClient{t: t, conn: conn, dec: xml.NewDecoder(conn)}
}

func (c *rawClient) send(s string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(s)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// open sends a stream header and returns the features that follow.
func (c *rawClient) open(domain string) element {
	c.t.Helper()
	c.send(clientStreamHeader(domain))
	return c.openRead()
}

// openRead reads the server's stream header and the element after it.
func (c *rawClient) openRead() element {
	c.t.Helper()
	for {
		tok, err := c.dec.Token()
		if err != nil {
			c.t.Fatalf("reading stream header: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "stream" {
			break
		}
	}
	return c.next()
}

// next reads the next top-level element.
func (c *rawClient) next() element {
	c.t.Helper()
	el, err := c.tryNext()
	if err != nil {
		c.t.Fatalf("reading element: %v", err)
	}
	return el
}

func (c *rawClient) tryNext() (element, error) { return nextElement(c.dec) }

// nextElement reads the next top-level element; it skips at most a few stray tokens
// (whitespace between elements).
func nextElement(dec *xml.Decoder) (element, error) {
	for range 64 {
		tok, err := dec.Token()
		if err != nil {
			return element{}, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			var el element
			err := dec.DecodeElement(&el, &se)
			return el, err
		}
	}
	return element{}, errors.New("no element in 64 tokens")
}

// clientStreamHeader opens a client stream to domain.
func clientStreamHeader(domain string) string {
	return fmt.Sprintf("<?xml version='1.0'?><stream:stream to='%s' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", domain)
}

// auth starts a SASL exchange; payload nil sends no initial response.
func (c *rawClient) auth(mech string, payload []byte) element {
	c.t.Helper()
	body := ""
	if payload != nil {
		body = base64.StdEncoding.EncodeToString(payload)
		if body == "" {
			body = "="
		}
	}
	c.send(fmt.Sprintf("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='%s'>%s</auth>", mech, body))
	return c.next()
}

func (c *rawClient) respond(payload []byte) element {
	c.t.Helper()
	c.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64.StdEncoding.EncodeToString(payload) + "</response>")
	return c.next()
}

func plainPayload(authzid, user, password string) []byte {
	return []byte(authzid + "\x00" + user + "\x00" + password)
}

func bearerPayload(authzid, token string) []byte {
	gs2 := "n,,"
	if authzid != "" {
		gs2 = "n,a=" + authzid + ","
	}
	return []byte(gs2 + "\x01auth=Bearer " + token + "\x01\x01")
}

func decodeChallenge(t testing.TB, el element) string {
	t.Helper()
	if el.XMLName.Local != "challenge" {
		t.Fatalf("want a challenge, got <%s>%s", el.XMLName.Local, el.Inner)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(el.Inner))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// bind binds a resource on a freshly restarted stream and returns the full JID.
func (c *rawClient) bind(resource string) string {
	c.t.Helper()
	return bindResource(c.t, c.send, c.next, resource)
}

// bindResource binds over any client that sends and reads elements.
func bindResource(t testing.TB, send func(string), next func() element, resource string) string {
	t.Helper()
	send("<iq xmlns='jabber:client' type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + resource + "</resource></bind></iq>")
	el := next()
	if el.attr("type") != "result" {
		t.Fatalf("bind failed: %s", el.Inner)
	}
	var b struct {
		JID string `xml:"bind>jid"`
	}
	if err := xml.Unmarshal([]byte("<iq>"+el.Inner+"</iq>"), &b); err != nil {
		t.Fatal(err)
	}
	return b.JID
}
