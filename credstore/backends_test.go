package credstore

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Test keys: fixed so a failure is reproducible, distinct so a mix-up shows.
var (
	testHashKey = bytes.Repeat([]byte{0x11}, 32)
	keyA        = EncryptionKey{ID: "a", Key: bytes.Repeat([]byte{0xaa}, 32)}
	keyB        = EncryptionKey{ID: "b", Key: bytes.Repeat([]byte{0xbb}, 32)}
)

// backend opens stores on one database, so a test can open a second store
// (another replica, or a restart with other keys) on the same data.
type backend struct {
	name string
	base Config
}

// open returns a store on the backend's database, closed when the test
// ends; change adjusts the config first.
func (b backend) open(t testing.TB, change ...func(*Config)) *Store {
	t.Helper()
	cfg := b.base
	cfg.HashKey = testHashKey
	cfg.EncryptionKeys = []EncryptionKey{keyA}
	cfg.Logf = t.Logf
	for _, c := range change {
		c(&cfg)
	}
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// eachBackend runs fn on a fresh SQLite file and a fresh PostgreSQL
// database (skipped where PostgreSQL is not installed, failed on CI).
func eachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Run(DriverSQLite, func(t *testing.T) {
		fn(t, sqliteBackend(t))
	})
	t.Run(DriverPostgres, func(t *testing.T) {
		fn(t, postgresBackend(t))
	})
}

func sqliteBackend(t testing.TB) backend {
	return backend{name: DriverSQLite, base: Config{
		Driver: DriverSQLite, Path: filepath.Join(t.TempDir(), "credstore.db"),
	}}
}

func postgresBackend(t testing.TB) backend {
	return backend{name: DriverPostgres, base: Config{
		Driver: DriverPostgres, DSN: testenv.PostgresDatabase(t),
	}}
}

// clock is a settable Config.Now, so time-dependent rules are tested
// without sleeping.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func withClock(c *clock) func(*Config) { return func(cfg *Config) { cfg.Now = c.Now } }

var alice = Owner{JID: "alice@example.org", Subject: "sub-alice"}

// create makes an app password for owner on a new grant.
func create(t testing.TB, s *Store, owner Owner, label string) (AppPassword, Secret) {
	t.Helper()
	ap, secret, err := s.CreateAppPassword(context.Background(), NewAppPassword{
		Owner: owner, Label: label, RefreshToken: "refresh-" + label,
	})
	if err != nil {
		t.Fatal(err)
	}
	return ap, secret
}

// nextEvent waits for the subscription's next event. The deadline only
// bounds a hung test; nothing asserts how fast the event came.
func nextEvent(t *testing.T, sub *Subscription) Event {
	t.Helper()
	select {
	case ev, ok := <-sub.Events():
		if !ok {
			t.Fatal("subscription closed")
		}
		return ev
	case <-time.After(30 * time.Second):
		t.Fatal("no event within 30s")
	}
	return Event{}
}

// mustVerify verifies alice's password from addr and fails the test if refused.
func mustVerify(t testing.TB, s *Store, secret Secret, addr string) Verified {
	t.Helper()
	v, err := s.Verify(context.Background(), alice.JID, secret.Reveal(), addr)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
