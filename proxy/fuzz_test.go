package proxy

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/proxy/upstream"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// pipeUpstream hands out sessions whose far end has already hung up.
type pipeUpstream struct{}

func (pipeUpstream) Login(context.Context, upstream.Credentials) (*upstream.Session, error) {
	a, b := net.Pipe()
	b.Close()
	return &upstream.Session{Conn: a}, nil
}

// FuzzPreAuth feeds arbitrary client bytes to one connection. The first byte picks
// the phase: even starts on the plaintext STARTTLS stream, odd as if TLS were done,
// so that the SASL loop is reached. The connection must not panic and must end.
func FuzzPreAuth(f *testing.F) {
	f.Add([]byte("\x00" + clientHeader + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"))
	f.Add([]byte("\x01" + clientHeader + plainAuth("juliet", "s3cret") + restartHeader))
	f.Add([]byte("\x01" + clientHeader + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'/><response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>AGp1bGlldABzM2NyZXQ=</response>"))
	f.Add([]byte("\x01" + clientHeader + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='OAUTHBEARER'>" + b64("n,,\x01auth=Bearer x\x01\x01") + "</auth><response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>AQ==</response>"))
	f.Add([]byte("\x01<!DOCTYPE x [<!ENTITY a 'b'>]>" + clientHeader))
	f.Add([]byte("\x00" + clientHeader + "<!-- c --></stream:stream>"))

	auth := &fakeAuth{passwords: map[string]string{"juliet": "s3cret"}, tokens: map[string]string{"t": "juliet"}}
	cert, _ := certificate(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		srv, err := New(Config{
			Domains: []Domain{{
				Name:     testDomain,
				SASL:     saslauth.Config{Authenticator: auth, AllowPlain: true, AllowOAuthBearer: true},
				Upstream: pipeUpstream{},
			}},
			Certificates:    &certSource{cert: cert},
			PreAuthTimeout:  5 * time.Second, // a backstop: every input ends by itself
			MaxElementBytes: 4096,
			Logger:          zerolog.Nop(),
		})
		if err != nil {
			t.Fatal(err)
		}
		server, peer := net.Pipe()
		c := newConn(srv, server, false)
		if len(in) > 0 {
			c.tlsDone = in[0]%2 == 1
			in = in[1:]
		}
		if srv.track(c) != tracked {
			t.Fatal("server closed")
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.serve()
		}()
		go func() { _, _ = io.Copy(io.Discard, peer) }()
		_, _ = peer.Write(in) // returns when all is read or the server hung up
		peer.Close()
		<-done
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
