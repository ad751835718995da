package testenv

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// xmppClient is just enough of a client to log in: stream header,
// STARTTLS, SASL PLAIN.
type xmppClient struct {
	t    *testing.T
	conn net.Conn
	dec  *xml.Decoder
	from string // the stream header's from=, if set
}

type features struct {
	StartTLS   *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-tls starttls"`
	Mechanisms []string  `xml:"urn:ietf:params:xml:ns:xmpp-sasl mechanisms>mechanism"`
	SM         *struct{} `xml:"urn:xmpp:sm:3 sm"`
	sasl2Features
}

func (c *xmppClient) send(s string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// next decodes the next top-level element inside the stream into v.
func (c *xmppClient) next(v any) xml.Name {
	c.t.Helper()
	for {
		tok, err := c.dec.Token()
		if err != nil {
			c.t.Fatal(err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local == "stream" {
			continue
		}
		if err := c.dec.DecodeElement(v, &se); err != nil {
			c.t.Fatal(err)
		}
		return se.Name
	}
}

// open (re)starts the stream on the current connection and returns the features.
func (c *xmppClient) open(domain string) features {
	c.t.Helper()
	c.dec = xml.NewDecoder(c.conn)
	from := ""
	if c.from != "" {
		from = " from='" + c.from + "'"
	}
	c.send(fmt.Sprintf("<?xml version='1.0'?><stream:stream to='%s'%s version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", domain, from))
	var f features
	if name := c.next(&f); name.Local != "features" {
		c.t.Fatalf("got <%s>, want stream features", name.Local)
	}
	return f
}

// dialXMPP returns a TLS-protected stream's features, over STARTTLS or
// direct TLS, trusting only the environment's certificate.
func dialXMPP(t *testing.T, p *ServerInfo, directTLS bool) (*xmppClient, features) {
	return dialXMPPFrom(t, p, directTLS, "")
}

// dialXMPPFrom is dialXMPP with from= (a JID) on the stream headers.
func dialXMPPFrom(t *testing.T, p *ServerInfo, directTLS bool, from string) (*xmppClient, features) {
	pem, err := os.ReadFile(p.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	cfg := &tls.Config{ServerName: p.Domain, RootCAs: roots, NextProtos: []string{"xmpp-client"}}
	d := net.Dialer{Timeout: 10 * time.Second}
	c := &xmppClient{t: t, from: from}
	if directTLS {
		c.conn, err = tls.DialWithDialer(&d, "tcp", p.DirectTLSAddr, cfg)
		if err != nil {
			t.Fatal(err)
		}
	} else {
		if c.conn, err = d.Dial("tcp", p.C2SAddr); err != nil {
			t.Fatal(err)
		}
		c.conn.SetDeadline(time.Now().Add(10 * time.Second))
		if f := c.open(p.Domain); f.StartTLS == nil {
			t.Fatal("no STARTTLS offered")
		}
		c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
		var v struct{}
		if name := c.next(&v); name.Local != "proceed" {
			t.Fatalf("got <%s>, want <proceed/>", name.Local)
		}
		tc := tls.Client(c.conn, cfg)
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		c.conn = tc
	}
	t.Cleanup(func() { c.conn.Close() })
	c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	return c, c.open(p.Domain)
}

// plainLogin runs SASL PLAIN and returns the outcome element's name.
func (c *xmppClient) plainLogin(user, password string) string {
	c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
		base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+password)) + "</auth>")
	var v struct{}
	return c.next(&v).Local
}

func TestProsodyAdminLogin(t *testing.T) {
	env := Require(t)
	p := env.Prosody
	user, _, _ := strings.Cut(p.AdminJID, "@")
	for _, direct := range []bool{false, true} {
		t.Run(fmt.Sprintf("directTLS=%v", direct), func(t *testing.T) {
			c, f := dialXMPP(t, &p.ServerInfo, direct)
			if !slices.Contains(f.Mechanisms, "PLAIN") {
				t.Fatalf("mechanisms %v lack PLAIN", f.Mechanisms)
			}
			if got := c.plainLogin(user, p.AdminPassword); got != "success" {
				t.Fatalf("admin login: <%s>, want <success/>", got)
			}
			// smacks is on by default: XEP-0198 is offered after login.
			if f := c.open(p.Domain); f.SM == nil {
				t.Error("stream management (urn:xmpp:sm:3) not offered after login")
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		c, _ := dialXMPP(t, &p.ServerInfo, false)
		if got := c.plainLogin(user, "wrong"+p.AdminPassword); got != "failure" {
			t.Fatalf("got <%s>, want <failure/>", got)
		}
	})
}

func TestProsodyRegister(t *testing.T) {
	env, ctx := Require(t), testCtx(t)
	p := env.Prosody
	user := "erin." + randomSecret()[:8] // the shared env outlives -count runs
	if ok, err := p.UserExists(ctx, user); err != nil || ok {
		t.Fatalf("before Register: exists=%v err=%v", ok, err)
	}
	if err := p.Register(ctx, user, "erin-pw"); err != nil {
		t.Fatal(err)
	}
	if ok, err := p.UserExists(ctx, user); err != nil || !ok {
		t.Fatalf("after Register: exists=%v err=%v", ok, err)
	}
	c, _ := dialXMPP(t, &p.ServerInfo, false)
	if got := c.plainLogin(user, "erin-pw"); got != "success" {
		t.Fatalf("login as registered user: <%s>", got)
	}
}
