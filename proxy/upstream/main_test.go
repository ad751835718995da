package upstream

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"os"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// testKey is the managed-secret key of the tests' dialers.
var testKey = []byte("0123456789abcdef0123456789abcdef")

// prosodyConfig is a Config for the shared real Prosody; mode picks the port.
func prosodyConfig(t testing.TB, mode string) Config {
	t.Helper()
	return serverConfig(t, testenv.Require(t).Prosody, mode)
}

// serverConfig is a Config for a shared real server (Prosody or ejabberd).
func serverConfig(t testing.TB, srv testenv.Server, mode string) Config {
	t.Helper()
	p := srv.Info()
	pem, err := os.ReadFile(p.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("no certificate in", p.CertFile)
	}
	addr := p.C2SAddr
	if mode == TLSDirect {
		addr = p.DirectTLSAddr
	}
	return Config{
		Domain:         p.Domain,
		Address:        addr,
		TLSMode:        mode,
		RootCAs:        roots,
		SecretKey:      testKey,
		AdminJID:       p.AdminJID,
		AdminPassword:  p.AdminPassword,
		CreateAccounts: true,
	}
}

// tlsModes are the upstream TLS modes srv serves: the test ejabberd, like a
// stock one, requires STARTTLS, so plain TCP is Prosody's only.
func tlsModes(srv testenv.Server) []string {
	if srv.Info().Name == testenv.ServerEjabberd {
		return []string{TLSStartTLS, TLSDirect}
	}
	return []string{TLSStartTLS, TLSDirect, TLSNone}
}

// newDialer builds a Dialer that counts the admin commands it runs.
func newDialer(t testing.TB, cfg Config) (*Dialer, *commandLog) {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	cl := &commandLog{}
	d.onCommand = cl.add
	return d, cl
}

// commandLog records the XEP-0050 nodes a Dialer executes.
type commandLog struct {
	mu    sync.Mutex
	nodes []string
}

func (c *commandLog) add(node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodes = append(c.nodes, node)
}

func (c *commandLog) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes
	c.nodes = nil
	return n
}

// newUser returns a localpart no test used before.
func newUser(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// syncBuffer is a zerolog sink tests can read while the dialer writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func debugLogger(w *syncBuffer) zerolog.Logger {
	return zerolog.New(w).Level(zerolog.DebugLevel)
}
