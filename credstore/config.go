package credstore

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Drivers Open accepts.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Defaults of Config's durations.
const (
	DefaultRecheck          = 15 * time.Minute
	DefaultUseRecordingStep = time.Minute
	DefaultRecheckLease     = time.Minute
)

// Config says where the store lives and which keys protect it.
type Config struct {
	// Driver is DriverSQLite (the default) or DriverPostgres.
	Driver string
	// Path is the SQLite database file; it is created if missing.
	Path string
	// DSN is the PostgreSQL connection string (pgx syntax).
	DSN string
	// HashKey keys the app-password hashes: at least 32 bytes, the same on
	// every replica. Changing it invalidates every app password.
	HashKey []byte
	// EncryptionKeys seal refresh tokens; the first is current.
	EncryptionKeys []EncryptionKey
	// Recheck is how old a grant's last IdP check may be before Verify
	// says it needs another. Zero: DefaultRecheck.
	Recheck time.Duration
	// RecheckLease is how long a grant claimed for a recheck is held
	// before another caller may claim it. Zero: DefaultRecheckLease.
	RecheckLease time.Duration
	// UseRecordingStep coalesces last-use writes: a login from the same
	// address within this step of the recorded one writes nothing.
	// Zero: DefaultUseRecordingStep.
	UseRecordingStep time.Duration
	// Logf receives errors of the background PostgreSQL listener. Nil: silent.
	Logf func(format string, args ...any)
	// Now is the clock; nil is time.Now. For tests.
	Now func() time.Time
}

// String names the backend and key ids, never a key or a DSN (which may
// hold a password).
func (c Config) String() string {
	ids := make([]string, len(c.EncryptionKeys))
	for i, k := range c.EncryptionKeys {
		ids[i] = k.ID
	}
	where := c.Path
	if c.Driver == DriverPostgres {
		where = "dsn " + redacted
	}
	return fmt.Sprintf("credstore.Config{Driver: %s, %s, HashKey: %s, EncryptionKeys: [%s]}",
		c.driver(), where, redacted, strings.Join(ids, " "))
}

func (c Config) GoString() string { return c.String() }

// Format covers every verb: without it %d would print the keys and the DSN.
func (c Config) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

// MarshalText keeps keys and the DSN out of JSON and structured logs.
func (c Config) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

func (c Config) driver() string {
	if c.Driver == "" {
		return DriverSQLite
	}
	return c.Driver
}
