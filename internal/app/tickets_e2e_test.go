package app_test

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

func ticketKey() string {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// tlsVisit opens a Direct TLS stream with cache, reads the features (which
// also takes in the server's session tickets) and reports whether the
// handshake resumed a session.
func tlsVisit(t *testing.T, s *stack, cache tls.ClientSessionCache) bool {
	t.Helper()
	cfg := s.tlsConfig()
	cfg.NextProtos = []string{"xmpp-client"}
	cfg.ClientSessionCache = cache
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.direct, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := newRaw(t, conn)
	c.open(s.env.Prosody.Domain)
	return conn.ConnectionState().DidResume
}

// TestSessionTicketsSharedAndRotated: two replicas reading one
// tls.session_ticket_keys_file resume each other's clients; a rotation on
// SIGHUP (new key on top) keeps old tickets valid until the old key is
// dropped. Replicas without the file do not resume each other's clients.
func TestSessionTicketsSharedAndRotated(t *testing.T) {
	env := testenv.Require(t)
	keys := filepath.Join(t.TempDir(), "tickets")
	old := ticketKey()
	if err := os.WriteFile(keys, []byte(old+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	withKeys := strings.Replace(env.ProxyConfig(listenAny, ""), "\ntls:\n", fmt.Sprintf("\ntls:\n  session_ticket_keys_file: %q\n", keys), 1)
	a := startStackFor(t, env, withKeys)
	b := startStackFor(t, env, withKeys)
	plain := startStack(t, "")

	cache := tls.NewLRUClientSessionCache(4)
	if tlsVisit(t, a, cache) {
		t.Fatal("the first visit resumed a session")
	}
	if !tlsVisit(t, b, cache) {
		t.Fatal("replica b did not resume a session that replica a issued with the shared key")
	}
	if tlsVisit(t, plain, cache) {
		t.Fatal("a replica without the shared key resumed another's session")
	}

	// Rotation: a new key on top, the old one kept: old tickets still resume.
	fresh := tls.NewLRUClientSessionCache(4)
	tlsVisit(t, a, fresh) // a ticket under the old key
	if err := os.WriteFile(keys, []byte(ticketKey()+"\n"+old+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a.app.Reload()
	b.app.Reload()
	if !tlsVisit(t, b, fresh) {
		t.Fatal("after rotation with the old key kept, an old ticket did not resume")
	}
	// Every key replaced: tickets issued before no longer resume.
	stale := tls.NewLRUClientSessionCache(4)
	tlsVisit(t, a, stale) // a ticket under the current key
	if err := os.WriteFile(keys, []byte(ticketKey()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a.app.Reload()
	if tlsVisit(t, a, stale) {
		t.Fatal("a ticket under a dropped key resumed")
	}
}
