package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/proxy/upstream"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

const (
	testDomain = "example.com"
	// ioTimeout keeps a broken test from hanging; no test asserts a duration.
	ioTimeout = 10 * time.Second
)

var (
	testCertOnce sync.Once
	testCert     tls.Certificate
	testPool     *x509.CertPool
)

// certificate returns a self-signed certificate for testDomain and "localhost".
func certificate(t testing.TB) (tls.Certificate, *x509.CertPool) {
	testCertOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		if testCert, err = selfSigned(key, x509.ECDSAWithSHA256); err != nil {
			panic(err)
		}
		testPool = x509.NewCertPool()
		testPool.AddCert(testCert.Leaf)
	})
	return testCert, testPool
}

// selfSigned is a certificate for testDomain and "localhost" signed by key with alg.
func selfSigned(key crypto.Signer, alg x509.SignatureAlgorithm) (tls.Certificate, error) {
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: testDomain},
		DNSNames:              []string{testDomain, "localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		SignatureAlgorithm:    alg,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, err
}

// certSource records the server names it was asked for.
type certSource struct {
	mu    sync.Mutex
	names []string
	cert  tls.Certificate
}

func (s *certSource) GetCertificate(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.Lock()
	s.names = append(s.names, h.ServerName)
	s.mu.Unlock()
	return &s.cert, nil
}

// fakeAuth knows passwords and tokens.
type fakeAuth struct {
	mu        sync.Mutex
	passwords map[string]string
	tokens    map[string]string // token -> username
	calls     int
}

func (f *fakeAuth) CheckPassword(_ context.Context, user, pass string) (saslauth.Identity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if pw, ok := f.passwords[user]; ok && pw == pass {
		return saslauth.Identity{Username: user, Token: "tok-" + user}, nil
	}
	return saslauth.Identity{}, saslauth.ErrInvalidCredentials
}

func (f *fakeAuth) CheckToken(_ context.Context, token string) (saslauth.Identity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if u, ok := f.tokens[token]; ok {
		return saslauth.Identity{Username: u, Token: token}, nil
	}
	return saslauth.Identity{}, saslauth.ErrInvalidCredentials
}

func (f *fakeAuth) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// fakeUpstream is the Upstream of the tests: Login dials an in-test TCP server whose
// handler plays the upstream XMPP server after its <success/>.
type fakeUpstream struct {
	t        testing.TB
	ln       net.Listener
	handle   func(net.Conn)
	buffered []byte // handed out as Session.Buffered

	mu     sync.Mutex
	err    error // Login fails with it when set
	logins []upstream.Credentials
	froms  []net.Addr // the client address each Login was told about
	wg     sync.WaitGroup
}

func newFakeUpstream(t testing.TB, handle func(net.Conn)) *fakeUpstream {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeUpstream{t: t, ln: ln, handle: handle}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(ioTimeout))
				f.handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		f.wg.Wait()
	})
	return f
}

func (f *fakeUpstream) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *fakeUpstream) Login(ctx context.Context, c upstream.Credentials) (*upstream.Session, error) {
	f.mu.Lock()
	f.logins = append(f.logins, c)
	f.froms = append(f.froms, upstream.ClientAddrFrom(ctx))
	err := f.err
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", f.ln.Addr().String())
	if err != nil {
		return nil, errors.Join(upstream.ErrUnavailable, err)
	}
	return &upstream.Session{Conn: conn, Buffered: f.buffered}, nil
}

func (f *fakeUpstream) loginList() []upstream.Credentials {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]upstream.Credentials(nil), f.logins...)
}

const upstreamFeatures = "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"

// answerRestart reads the client's restarted stream header and answers it like a
// server after SASL. It returns what it read.
func answerRestart(c net.Conn) (*bufio.Reader, string, error) {
	br := bufio.NewReader(c)
	got, err := readThrough(br, "<stream:stream", ">")
	if err != nil {
		return br, got, err
	}
	_, err = io.WriteString(c, "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='up1' from='example.com' version='1.0'>"+upstreamFeatures)
	return br, got, err
}

// readThrough reads until it has seen each marker in turn.
func readThrough(br *bufio.Reader, markers ...string) (string, error) {
	var b strings.Builder
	for _, m := range markers {
		for !strings.HasSuffix(b.String(), m) {
			c, err := br.ReadByte()
			if err != nil {
				return b.String(), err
			}
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// env is a running proxy with one domain.
type env struct {
	t        testing.TB
	srv      *Server
	auth     *fakeAuth
	up       *fakeUpstream
	certs    *certSource
	addr     string // STARTTLS
	tlsAddr  string // Direct TLS
	pool     *x509.CertPool
	shutdown bool
}

type envOption func(*Config)

func newEnv(t testing.TB, handle func(net.Conn), opts ...envOption) *env {
	cert, pool := certificate(t)
	e := &env{
		t:     t,
		auth:  &fakeAuth{passwords: map[string]string{"juliet": "s3cret"}, tokens: map[string]string{"good-token": "juliet"}},
		certs: &certSource{cert: cert},
		pool:  pool,
	}
	if handle == nil {
		handle = func(c net.Conn) { _, _, _ = answerRestart(c) }
	}
	e.up = newFakeUpstream(t, handle)
	cfg := Config{
		Domains: []Domain{{
			Name:     testDomain,
			SASL:     saslauth.Config{Authenticator: e.auth, AllowPlain: true, AllowOAuthBearer: true, Scope: "xmpp:client:normal", DiscoveryURL: "https://idp.example.com/.well-known/openid-configuration"},
			Upstream: e.up,
		}},
		Certificates: e.certs,
		Logger:       zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel),
	}
	if _, ok := t.(*testing.B); ok {
		cfg.Logger = zerolog.Nop()
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.addr = e.serve(false)
	e.tlsAddr = e.serve(true)
	t.Cleanup(func() {
		if !e.shutdown {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		}
	})
	return e
}

func (e *env) serve(direct bool) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.srv.Serve(context.Background(), ln, direct)
	}()
	e.t.Cleanup(func() { <-done })
	return ln.Addr().String()
}

// client is a hand-written XMPP client: raw bytes out, raw bytes in.
type client struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
	seen bytes.Buffer // everything read so far
}

func (e *env) dial(addr string) *client {
	e.t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	return &client{t: e.t, conn: c, br: bufio.NewReader(c)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// expect reads until the input so far contains want, and returns what this call read.
func (c *client) expect(want string) string {
	c.t.Helper()
	start := c.seen.Len()
	for !strings.Contains(c.seen.String()[start:], want) {
		b, err := c.br.ReadByte()
		if err != nil {
			c.t.Fatalf("waiting for %q: %v; got %q", want, err, c.seen.String()[start:])
		}
		c.seen.WriteByte(b)
	}
	return c.seen.String()[start:]
}

// rest reads until the server closes the connection.
func (c *client) rest() string {
	c.t.Helper()
	b, err := io.ReadAll(c.br)
	if err != nil && !isReset(err) {
		c.t.Fatalf("reading to the end: %v; got %q", err, b)
	}
	c.seen.Write(b)
	return string(b)
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

const clientHeader = "<?xml version='1.0'?><stream:stream to='example.com' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"

// startTLS negotiates TLS on the STARTTLS port and restarts the stream.
func (c *client) startTLS(pool *x509.CertPool) *tls.ConnectionState {
	c.t.Helper()
	c.send(clientHeader)
	c.expect("</stream:features>")
	c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	c.expect("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	tc := tls.Client(c.conn, &tls.Config{ServerName: testDomain, RootCAs: pool})
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("tls: %v", err)
	}
	c.conn = tc
	c.br = bufio.NewReader(tc)
	c.send(clientHeader)
	c.expect("</stream:features>")
	st := tc.ConnectionState()
	return &st
}

// directTLS dials the Direct TLS port and opens the stream.
func (e *env) directTLS() (*client, tls.ConnectionState) {
	e.t.Helper()
	c := e.directHello()
	c.send(clientHeader)
	c.expect("</stream:features>")
	return c, c.conn.(*tls.Conn).ConnectionState()
}

// directHello dials the Direct TLS port and completes the handshake, with SNI.
func (e *env) directHello() *client {
	e.t.Helper()
	c := e.dial(e.tlsAddr)
	tc := tls.Client(c.conn, &tls.Config{ServerName: testDomain, RootCAs: e.pool, NextProtos: []string{"xmpp-client"}})
	if err := tc.Handshake(); err != nil {
		e.t.Fatalf("tls: %v", err)
	}
	c.conn = tc
	c.br = bufio.NewReader(tc)
	return c
}

// login is STARTTLS and a PLAIN login as juliet up to <success/>.
func (e *env) login() *client {
	e.t.Helper()
	c := e.dial(e.addr)
	c.startTLS(e.pool)
	c.send(plainAuth("juliet", "s3cret"))
	c.expect("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
	return c
}

func plainAuth(user, pass string) string {
	return "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
		base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass)) + "</auth>"
}

func streamErrorXML(cond string) string {
	return "<stream:error><" + cond + " xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
}

func saslFailureXML(cond string) string {
	return "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><" + cond + "/>"
}

// waitFor polls cond until it holds; it fails the test after ioTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
