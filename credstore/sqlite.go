package credstore

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"strings"

	_ "modernc.org/sqlite" // pure Go: CGO_ENABLED=0 builds stay static
)

// sqliteReaders bounds the read pool; WAL lets readers run beside the writer.
const sqliteReaders = 4

// openSQLite opens two pools on one file: a single writer connection (so
// concurrent writes queue in database/sql instead of failing with
// SQLITE_BUSY) and a read-only pool. The busy timeout covers other
// processes on the same file, such as the operator's CLI.
func (s *Store) openSQLite(ctx context.Context, path string) error {
	if path == "" {
		return errors.New("no path")
	}
	if strings.ContainsAny(path, "?#") || path == ":memory:" {
		// The driver reads a query after '?'; an in-memory database
		// would be a different one for each pool.
		return errors.New("path must name a file without '?' or '#'")
	}
	pragmas := func(extra ...string) string {
		q := url.Values{"_pragma": append([]string{
			"busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)",
		}, extra...)}
		return path + "?" + q.Encode()
	}
	var err error
	// journal_mode(WAL) is persistent in the file, so the writer sets it
	// before any reader opens. _txlock=immediate takes the write lock at
	// BEGIN, so a transaction never fails half-way on a lock upgrade.
	s.write, err = sql.Open("sqlite", pragmas("journal_mode(WAL)")+"&_txlock=immediate")
	if err != nil {
		return err
	}
	s.write.SetMaxOpenConns(1)
	if err := s.write.PingContext(ctx); err != nil {
		return err
	}
	if err := migrate(ctx, s.write, DriverSQLite); err != nil {
		return err
	}
	s.read, err = sql.Open("sqlite", pragmas("query_only(1)"))
	if err != nil {
		return err
	}
	s.read.SetMaxOpenConns(sqliteReaders)
	if err := s.read.PingContext(ctx); err != nil {
		return err
	}
	return s.startEventPoller(ctx)
}
