package proxy

import (
	"bytes"
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/proxy/upstream"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// witnessAuth is fakeAuth that also counts the calls it answered with success.
type witnessAuth struct {
	fakeAuth
	calls, successes atomic.Int32
}

func (a *witnessAuth) CheckPassword(ctx context.Context, user, pass string) (saslauth.Identity, error) {
	return a.count(a.fakeAuth.CheckPassword(ctx, user, pass))
}

func (a *witnessAuth) CheckToken(ctx context.Context, token string) (saslauth.Identity, error) {
	return a.count(a.fakeAuth.CheckToken(ctx, token))
}

func (a *witnessAuth) count(id saslauth.Identity, err error) (saslauth.Identity, error) {
	a.calls.Add(1)
	if err == nil {
		a.successes.Add(1)
	}
	return id, err
}

// witnessUpstream hands out sessions whose far end has already hung up, and
// notes any login asked for before the authenticator said yes.
type witnessUpstream struct {
	auth          *witnessAuth
	logins, early atomic.Int32
}

func (u *witnessUpstream) Login(context.Context, upstream.Credentials) (*upstream.Session, error) {
	u.logins.Add(1)
	if u.auth.successes.Load() == 0 {
		u.early.Add(1)
	}
	a, b := net.Pipe()
	b.Close()
	return &upstream.Session{Conn: a}, nil
}

// scriptConn is a client that sends its script, then ends its side (reads see EOF),
// and keeps all it is sent: everything the server answers is seen, with no waiting.
type scriptConn struct {
	in     *bytes.Reader
	mu     sync.Mutex
	out    bytes.Buffer
	closed bool
}

func (s *scriptConn) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, net.ErrClosed
	}
	return s.in.Read(p)
}

func (s *scriptConn) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, net.ErrClosed
	}
	return s.out.Write(p)
}

func (s *scriptConn) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *scriptConn) written() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.out.Bytes())
}

func (*scriptConn) LocalAddr() net.Addr              { return scriptAddr{} }
func (*scriptConn) RemoteAddr() net.Addr             { return scriptAddr{} }
func (*scriptConn) SetDeadline(time.Time) error      { return nil }
func (*scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (*scriptConn) SetWriteDeadline(time.Time) error { return nil }

type scriptAddr struct{}

func (scriptAddr) Network() string { return "script" }
func (scriptAddr) String() string  { return "script" }

// FuzzPreAuth feeds arbitrary client bytes to one connection. The first byte picks
// the phase: even starts on the plaintext STARTTLS stream, odd as if TLS were done,
// so that the SASL loop is reached. The connection must end, and:
//   - no <success/> without an authenticator's yes and an upstream login;
//   - on the plaintext stream (no input can finish a TLS handshake) no SASL offer,
//     no authenticator call and no upstream login;
//   - no upstream login before an authenticator's yes.
func FuzzPreAuth(f *testing.F) {
	f.Add([]byte("\x00" + clientHeader + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"))
	f.Add([]byte("\x00" + clientHeader + plainAuth("juliet", "s3cret")))
	f.Add([]byte("\x01" + clientHeader + plainAuth("juliet", "s3cret") + restartHeader))
	f.Add([]byte("\x01" + clientHeader + plainAuth("juliet", "wrong") + plainAuth("juliet", "s3cret")))
	f.Add([]byte("\x01" + clientHeader + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'/><response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>AGp1bGlldABzM2NyZXQ=</response>"))
	f.Add([]byte("\x01" + clientHeader + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='OAUTHBEARER'>" + b64("n,,\x01auth=Bearer x\x01\x01") + "</auth><response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>AQ==</response>"))
	f.Add([]byte("\x01<!DOCTYPE x [<!ENTITY a 'b'>]>" + clientHeader))
	f.Add([]byte("\x00" + clientHeader + "<!-- c --></stream:stream>"))

	cert, _ := certificate(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		auth := &witnessAuth{fakeAuth: fakeAuth{passwords: map[string]string{"juliet": "s3cret"}, tokens: map[string]string{"t": "juliet"}}}
		up := &witnessUpstream{auth: auth}
		srv, err := New(Config{
			Domains: []Domain{{
				Name:     testDomain,
				SASL:     saslauth.Config{Authenticator: auth, AllowPlain: true, AllowOAuthBearer: true},
				Upstream: up,
			}},
			Certificates:    &certSource{cert: cert},
			PreAuthTimeout:  5 * time.Second, // a backstop: every input ends by itself
			MaxElementBytes: 4096,
			Logger:          zerolog.Nop(),
		})
		if err != nil {
			t.Fatal(err)
		}
		sc := &scriptConn{in: bytes.NewReader(in)}
		c := newConn(srv, sc, false)
		if len(in) > 0 {
			c.tlsDone = in[0]%2 == 1
			sc.in = bytes.NewReader(in[1:])
		}
		plaintext := !c.tlsDone
		if srv.track(c) != tracked {
			t.Fatal("connection not taken on")
		}
		c.serve()
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		out := sc.written()

		if bytes.Contains(out, []byte("<success")) && (auth.successes.Load() == 0 || up.logins.Load() == 0) {
			t.Errorf("<success/> sent with %d authenticator successes and %d upstream logins", auth.successes.Load(), up.logins.Load())
		}
		if n := up.early.Load(); n > 0 {
			t.Errorf("%d upstream logins before the authenticator said yes", n)
		}
		if plaintext {
			if n := auth.calls.Load(); n > 0 {
				t.Errorf("authenticator asked %d times before TLS", n)
			}
			if n := up.logins.Load(); n > 0 {
				t.Errorf("%d upstream logins before TLS", n)
			}
			if bytes.Contains(out, []byte("<mechanism")) {
				t.Errorf("SASL offered before TLS: %q", out)
			}
		}
	})
}
