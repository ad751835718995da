package proxy

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"
)

// signedCert is selfSigned without its parsed leaf, as a loader may leave it.
func signedCert(t testing.TB, key crypto.Signer, alg x509.SignatureAlgorithm) tls.Certificate {
	t.Helper()
	cert, err := selfSigned(key, alg)
	if err != nil {
		t.Fatal(err)
	}
	cert.Leaf = nil
	return cert
}

// TestServerEndPoint: RFC 5929 §4.1: SHA-256 for certificates signed with
// SHA-256 (or weaker), the signature's own hash above that, nothing for a
// signature without a hash; the leaf is parsed when the certificate has none.
func TestServerEndPoint(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	sum256 := func(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
	sum384 := func(b []byte) []byte { s := sha512.Sum384(b); return s[:] }
	sum512 := func(b []byte) []byte { s := sha512.Sum512(b); return s[:] }
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		alg  x509.SignatureAlgorithm
		want func([]byte) []byte
	}{
		{"ecdsa-sha256", p256, x509.ECDSAWithSHA256, sum256},
		{"ecdsa-sha384", p384, x509.ECDSAWithSHA384, sum384},
		{"rsa-sha256", rsaKey, x509.SHA256WithRSA, sum256},
		{"rsa-pss-sha512", rsaKey, x509.SHA512WithRSAPSS, sum512},
		{"ed25519", edKey, x509.PureEd25519, nil},
	} {
		cert := signedCert(t, tc.key, tc.alg)
		got := serverEndPoint(&cert)
		if tc.want == nil {
			if got != nil {
				t.Errorf("%s: end point %x, want none", tc.name, got)
			}
			continue
		}
		if want := tc.want(cert.Certificate[0]); string(got) != string(want) {
			t.Errorf("%s: end point %x, want %x", tc.name, got, want)
		}
	}
	if serverEndPoint(nil) != nil || serverEndPoint(&tls.Certificate{Certificate: [][]byte{[]byte("junk")}}) != nil {
		t.Error("an end point for no certificate or an unreadable one")
	}
}

// endpClient is a Direct TLS client whose binding is computed from the
// certificate it saw, independently of the proxy.
type endpClient struct {
	*client
	state tls.ConnectionState
}

func (e *env) dialEndp(cfg *tls.Config) endpClient {
	e.t.Helper()
	c := e.dial(e.tlsAddr)
	tc := tls.Client(c.conn, cfg)
	if err := tc.Handshake(); err != nil {
		e.t.Fatalf("tls: %v", err)
	}
	c.conn = tc
	c.br = bufio.NewReader(tc)
	c.send(clientHeader)
	c.expect("</stream:features>") // also takes in TLS 1.3 session tickets
	return endpClient{c, tc.ConnectionState()}
}

// endPoint is what the client binds to: SHA-256 of the certificate the
// handshake showed (ECDSA with SHA-256 here).
func (c endpClient) endPoint() []byte {
	s := sha256.Sum256(c.state.PeerCertificates[0].Raw)
	return s[:]
}

func (c endpClient) fastLogin(cb []byte) {
	c.send("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-ENDP'><initial-response>" + htInitial("tok", cb) + "</initial-response>" +
		sasl2UA + "<fast xmlns='urn:xmpp:fast:0'/></authenticate>")
}

func responder(token string, cb []byte) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("Responder"))
	m.Write(cb)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// TestSASL2FASTEndPoint: HT-SHA-256-ENDP is offered on TLS 1.3 and 1.2 and
// binds to the certificate the client saw: a proof without it fails, one with
// it logs in with the responder proof over it. A resumed TLS session binds to
// the certificate of its original handshake (tickets carry it); after the
// certificate was replaced, or for a ticket that does not say (another server
// with the same keys), the session is not resumed and binds to the new one.
func TestSASL2FASTEndPoint(t *testing.T) {
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			e := newEnv(t, answerBind, withFAST(&fakeFAST{token: "tok"}))
			var ticketKey [32]byte
			_, _ = rand.Read(ticketKey[:])
			e.srv.SetSessionTicketKeys([][32]byte{ticketKey})
			cfg := &tls.Config{ServerName: testDomain, RootCAs: e.pool, NextProtos: []string{"xmpp-client"},
				MaxVersion: version, ClientSessionCache: tls.NewLRUClientSessionCache(4)}

			c := e.dialEndp(cfg)
			if !strings.Contains(c.seen.String(), "<mechanism>HT-SHA-256-ENDP</mechanism>") {
				t.Fatalf("ENDP not offered: %s", c.seen.String())
			}
			c.fastLogin(nil)
			c.expect("<not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
			c.fastLogin(c.endPoint())
			c.expect("<additional-data>" + responder("tok", c.endPoint()) + "</additional-data>")
			first := c.endPoint()

			// The same certificate: the session resumes and binds to it.
			r := e.dialEndp(cfg)
			if !r.state.DidResume {
				t.Fatal("the TLS session was not resumed")
			}
			if !strings.Contains(r.seen.String(), "<mechanism>HT-SHA-256-ENDP</mechanism>") {
				t.Fatalf("ENDP not offered on a resumed session: %s", r.seen.String())
			}
			r.fastLogin(first)
			r.expect("<additional-data>" + responder("tok", first) + "</additional-data>")

			// A new certificate (SIGHUP): a ticket made under the first is not
			// resumed, so the binding is the certificate this handshake shows.
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			next := signedCert(t, key, x509.ECDSAWithSHA256)
			e.certs.mu.Lock()
			e.certs.cert = next
			e.certs.mu.Unlock()
			trustNext := cfg.Clone() // the same session cache: the old ticket is offered
			trustNext.RootCAs = e.pool.Clone()
			leaf, _ := x509.ParseCertificate(next.Certificate[0])
			trustNext.RootCAs.AddCert(leaf)
			n := e.dialEndp(trustNext)
			if n.state.DidResume {
				t.Fatal("a ticket of the old certificate was resumed")
			}
			if !bytes.Equal(n.endPoint(), sum256(next.Certificate[0])) {
				t.Fatal("the handshake after the reload did not show the new certificate")
			}
			n.fastLogin(first)
			n.expect("<not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
			n.fastLogin(n.endPoint())
			n.expect("<additional-data>" + responder("tok", n.endPoint()) + "</additional-data>")

			// A ticket from a plain crypto/tls server with the same keys says
			// nothing of its certificate: not resumed either.
			plain := &tls.Config{Certificates: []tls.Certificate{next}, NextProtos: []string{"xmpp-client"}}
			plain.SetSessionTicketKeys([][32]byte{ticketKey})
			fresh := cfg.Clone()
			fresh.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			fresh.RootCAs = trustNext.RootCAs
			ticketFrom(t, plain, fresh)
			o := e.dialEndp(fresh)
			if o.state.DidResume {
				t.Fatal("a ticket without an end point was resumed")
			}
			if !strings.Contains(o.seen.String(), "<mechanism>HT-SHA-256-ENDP</mechanism>") {
				t.Fatalf("ENDP not offered after a full handshake: %s", o.seen.String())
			}
		})
	}
}

func sum256(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// ticketFrom runs one handshake of client against a crypto/tls server with
// config server, so that client's session cache holds that server's ticket.
func ticketFrom(t *testing.T, server, client *tls.Config) {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() {
		s := tls.Server(a, server)
		if s.Handshake() == nil {
			_, _ = s.Write([]byte("x")) // TLS 1.3 tickets go out before it
		}
	}()
	c := tls.Client(b, client)
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
}
