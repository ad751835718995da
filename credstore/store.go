package credstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// Errors callers tell apart. Each is wrapped with what was being done.
var (
	// ErrNotFound: no such credential for this owner, or the password is
	// wrong. A login is refused.
	ErrNotFound = errors.New("credstore: not found")
	// ErrRevoked: the credential exists but was revoked or its grant
	// disabled. A login is refused.
	ErrRevoked = errors.New("credstore: revoked")
	// ErrInvalidLabel: empty, too long, or not printable text.
	ErrInvalidLabel = errors.New("credstore: invalid label")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("credstore: store closed")
)

// Store is the credential store. Its methods are safe for concurrent use.
type Store struct {
	read    *sql.DB // SQLite: a pool of read-only connections
	write   *sql.DB // SQLite: one connection, so writers queue here, not in busy loops
	backend string
	hashKey []byte
	keys    *keyring
	recheck time.Duration
	lease   time.Duration
	useStep time.Duration
	now     func() time.Time
	events  *broker
	stop    func() // stops the PostgreSQL listener or the SQLite event poller
	origin  string // SQLite: marks this store's own rows in the events table
	closed  atomic.Bool
}

// Open connects, applies pending migrations and, on PostgreSQL, starts
// listening for other replicas' revocations.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if len(cfg.HashKey) < 32 {
		return nil, errors.New("credstore: hash key shorter than 32 bytes")
	}
	keys, err := newKeyring(cfg.EncryptionKeys)
	if err != nil {
		return nil, fmt.Errorf("credstore: %w", err)
	}
	s := &Store{
		backend: cfg.driver(),
		hashKey: append([]byte(nil), cfg.HashKey...),
		keys:    keys,
		recheck: orDefault(cfg.Recheck, DefaultRecheck),
		lease:   orDefault(cfg.RecheckLease, DefaultRecheckLease),
		useStep: orDefault(cfg.UseRecordingStep, DefaultUseRecordingStep),
		now:     cfg.Now,
		events:  newBroker(),
		stop:    func() {},
	}
	if s.now == nil {
		s.now = time.Now
	}
	switch s.backend {
	case DriverSQLite:
		err = s.openSQLite(ctx, cfg.Path)
	case DriverPostgres:
		err = s.openPostgres(ctx, cfg.DSN, cfg.Logf)
	default:
		return nil, fmt.Errorf("credstore: unknown driver %q (want %s or %s)", cfg.Driver, DriverSQLite, DriverPostgres)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("credstore: open %s: %w", s.backend, err)
	}
	return s, nil
}

// Close stops the listener, ends every subscription and closes the
// database. Later calls return ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.stop()
	s.events.close()
	var errs []error
	if s.read != nil && s.read != s.write {
		errs = append(errs, s.read.Close())
	}
	if s.write != nil {
		errs = append(errs, s.write.Close())
	}
	return errors.Join(errs...)
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// fail wraps err with the operation; after Close every failure is ErrClosed
// (database/sql's own "database is closed" is not exported).
func (s *Store) fail(op string, err error) error {
	if s.closed.Load() {
		err = ErrClosed
	}
	return fmt.Errorf("credstore: %s: %w", op, err)
}

// tx runs fn in one write transaction and announces its events once it
// committed: on PostgreSQL through NOTIFY inside the transaction (delivered
// to every replica at commit); on SQLite in process after the commit, and
// through the events table to other processes on the same file.
func (s *Store) tx(ctx context.Context, op string, fn func(*sql.Tx) ([]Event, error)) error {
	if s.closed.Load() {
		return s.fail(op, ErrClosed)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.fail(op, err)
	}
	defer tx.Rollback()
	events, err := fn(tx)
	if err != nil {
		return s.fail(op, err)
	}
	for _, ev := range events {
		announce := notify // PostgreSQL: to every replica at commit
		if s.backend == DriverSQLite {
			announce = s.logEvent // for other processes on the file
		}
		if err := announce(ctx, tx, ev); err != nil {
			return s.fail(op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.fail(op, err)
	}
	if s.backend == DriverSQLite {
		for _, ev := range events {
			s.events.publish(ev)
		}
	}
	return nil
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newID returns 80 random bits as 16 lowercase characters: unguessable, so
// an id in a URL reveals nothing, and short enough to type in the CLI.
func newID() string {
	b := make([]byte, 10)
	rand.Read(b)
	return strings.ToLower(idEncoding.EncodeToString(b))
}

// Times are stored as Unix microseconds; zero time is NULL.
func toDB(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromDB(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMicro(n.Int64).UTC()
}
