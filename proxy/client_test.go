package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"mellium.im/sasl"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/ping"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/proxy/upstream"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// upstreamBinds plays a server after SASL: features with bind, then the bind result.
func upstreamBinds(c net.Conn) {
	br, _, err := answerRestart(c)
	if err != nil {
		return
	}
	d := xml.NewDecoder(br)
	for {
		tok, err := d.Token()
		if err != nil {
			return
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "iq" {
			var id string
			for _, a := range se.Attr {
				if a.Name.Local == "id" {
					id = a.Value
				}
			}
			_ = d.Skip()
			_, _ = io.WriteString(c, "<iq type='result' id='"+id+"'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.com/r1</jid></bind></iq>")
		}
	}
}

// A real client library negotiates STARTTLS, SASL PLAIN and bind through the proxy.
func TestMelliumClientLogsIn(t *testing.T) {
	for _, direct := range []bool{false, true} {
		t.Run(map[bool]string{false: "starttls", true: "direct"}[direct], func(t *testing.T) {
			e := newEnv(t, upstreamBinds)
			ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
			defer cancel()
			addr := e.addr
			if direct {
				addr = e.tlsAddr
			}
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			tlsCfg := &tls.Config{ServerName: testDomain, RootCAs: e.pool, NextProtos: []string{"xmpp-client"}}
			var rw io.ReadWriter = conn
			features := []xmpp.StreamFeature{xmpp.SASL("", "s3cret", sasl.Plain), xmpp.BindResource()}
			if direct {
				tc := tls.Client(conn, tlsCfg)
				if err := tc.HandshakeContext(ctx); err != nil {
					t.Fatal(err)
				}
				rw = tc
			} else {
				features = append([]xmpp.StreamFeature{xmpp.StartTLS(tlsCfg)}, features...)
			}
			s, err := xmpp.NewClientSession(ctx, jid.MustParse("juliet@example.com"), rw, features...)
			if err != nil {
				t.Fatalf("login through the proxy: %v", err)
			}
			defer s.Close()
			if got := s.LocalAddr().String(); got != "juliet@example.com/r1" {
				t.Errorf("bound to %q, want the upstream's answer", got)
			}
		})
	}
}

// The proxy in front of a real, unchanged Prosody: the upstream login is the real
// one (managed credentials, account created through XEP-0133), and the client's
// stream after <success/> is Prosody's own: bind, then a ping answered by Prosody.
func TestRealProsody(t *testing.T) {
	env := testenv.Require(t)
	p := env.Prosody
	pem, err := os.ReadFile(p.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cert, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(zerolog.NewTestWriter(t))
	dialer, err := upstream.New(upstream.Config{
		Domain:         p.Domain,
		Address:        p.C2SAddr,
		RootCAs:        pool,
		SecretKey:      []byte("proxy-test-secret-key-0123456789"),
		AdminJID:       p.AdminJID,
		AdminPassword:  p.AdminPassword,
		CreateAccounts: true,
		Logger:         log,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer dialer.Close()
	auth := &fakeAuth{passwords: map[string]string{"proxyuser": "pw-of-proxyuser"}}
	srv, err := New(Config{
		Domains: []Domain{{
			Name:     p.Domain,
			SASL:     saslauth.Config{Authenticator: auth, AllowPlain: true},
			Upstream: dialer,
		}},
		Certificates: CertificateFunc(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }),
		Logger:       log,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(context.Background(), ln, false) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	me := jid.MustParse("proxyuser@" + p.Domain)
	s, err := xmpp.NewClientSession(ctx, me, conn,
		xmpp.StartTLS(&tls.Config{ServerName: p.Domain, RootCAs: pool}),
		xmpp.SASL("", "pw-of-proxyuser", sasl.Plain),
		xmpp.BindResource())
	if err != nil {
		t.Fatalf("login through the proxy to Prosody: %v", err)
	}
	if got := s.LocalAddr().Bare().String(); got != me.String() {
		t.Errorf("Prosody bound %q, want %q", got, me)
	}
	go func() { _ = s.Serve(nil) }()
	if err := ping.Send(ctx, s, jid.MustParse(p.Domain)); err != nil {
		t.Errorf("ping to Prosody through the relay: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("closing the stream: %v", err)
	}
}
