package testenv

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
)

// The environment shared by all tests of one test binary.
var shared struct {
	once sync.Once
	env  *Env
	err  error
}

// Main is for TestMain: it runs the tests, closes the shared environment,
// PostgreSQL cluster and ejabberd (if a test started them) and exits with
// the tests' status.
func Main(m *testing.M) {
	code := m.Run()
	if shared.env != nil {
		if err := shared.env.Close(); err != nil {
			os.Stderr.WriteString("testenv: close: " + err.Error() + "\n")
		}
	}
	if sharedPostgres.pg != nil {
		if err := sharedPostgres.pg.Close(); err != nil {
			os.Stderr.WriteString("testenv: close postgres: " + err.Error() + "\n")
		}
	}
	if sharedEjabberd.ej != nil {
		if err := sharedEjabberd.ej.Close(); err != nil {
			os.Stderr.WriteString("testenv: close ejabberd: " + err.Error() + "\n")
		}
	}
	os.Exit(code)
}

// Require returns the shared environment, starting it on first use. When
// the services are not installed the test is skipped, except on CI
// (CI=true) where that is a failure; any other start-up error is fatal.
// Without Main in TestMain the processes still die with the test binary
// (parent-death signal), but the temporary directory stays behind.
func Require(t testing.TB) *Env {
	t.Helper()
	shared.once.Do(func() {
		// Not t.Context(): the environment outlives this test.
		shared.env, shared.err = Start(context.Background(), Options{Logf: t.Logf})
	})
	skipOrFail(t, shared.err)
	return shared.env
}

// skipOrFail skips the test when a service is not installed (failing
// instead on CI=true) and fails it on any other start-up error.
func skipOrFail(t testing.TB, err error) {
	t.Helper()
	switch {
	case err == nil:
	case errors.Is(err, ErrUnavailable) && os.Getenv("CI") != "true":
		t.Skip(err)
	default:
		t.Fatal(err)
	}
}

// The PostgreSQL cluster shared by all tests of one test binary.
var sharedPostgres struct {
	once sync.Once
	pg   *Postgres
	err  error
}

// RequirePostgres returns the shared PostgreSQL cluster, starting it on
// first use; skipped or failed like Require when it is not installed.
func RequirePostgres(t testing.TB) *Postgres {
	t.Helper()
	sharedPostgres.once.Do(func() {
		sharedPostgres.pg, sharedPostgres.err = StartPostgres(context.Background(), t.Logf)
	})
	skipOrFail(t, sharedPostgres.err)
	return sharedPostgres.pg
}

// PostgresDatabase returns the DSN of a new, empty database on the shared
// cluster, so each test starts from nothing.
func PostgresDatabase(t testing.TB) string {
	t.Helper()
	pg := RequirePostgres(t)
	dsn, err := pg.CreateDatabase(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}
