package credstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// The goose SQL migrations, one set for both backends (see the first one).
//
//go:embed migrations/*.sql
var migrations embed.FS

// migrate applies every pending migration. On PostgreSQL a session advisory
// lock keeps replicas starting together from migrating twice; SQLite's
// single writer connection does the same there.
func migrate(ctx context.Context, db *sql.DB, backend string) error {
	dir, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	opts := []goose.ProviderOption{
		goose.WithLogger(goose.NopLogger()),
		goose.WithDisableGlobalRegistry(true),
		goose.WithTableName("credstore_schema_version"),
	}
	dialect := goose.DialectSQLite3
	if backend == DriverPostgres {
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db, dir, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return nil
}
