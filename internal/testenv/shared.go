package testenv

import (
	"context"
	"errors"
	"io"
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

// sharedService is a service shared by all tests of one test binary,
// started by the first test that asks: binaries that never ask pay nothing.
type sharedService[T io.Closer] struct {
	once    sync.Once
	v       T
	started bool
	err     error
}

// require starts the service on first use (not with a test's context: it
// outlives that test) and skips or fails t like Require.
func (s *sharedService[T]) require(t testing.TB, start func(context.Context, func(string, ...any)) (T, error)) T {
	t.Helper()
	s.once.Do(func() {
		s.v, s.err = start(context.Background(), t.Logf)
		s.started = s.err == nil
	})
	skipOrFail(t, s.err)
	return s.v
}

func (s *sharedService[T]) close(name string) {
	if !s.started {
		return
	}
	if err := s.v.Close(); err != nil {
		os.Stderr.WriteString("testenv: close " + name + ": " + err.Error() + "\n")
	}
}

// Main is for TestMain: it runs the tests, closes the shared environment,
// PostgreSQL cluster, ejabberd and reference Prosody (if a test started them)
// and exits with the tests' status.
func Main(m *testing.M) {
	code := m.Run()
	if shared.env != nil {
		if err := shared.env.Close(); err != nil {
			os.Stderr.WriteString("testenv: close: " + err.Error() + "\n")
		}
	}
	sharedPostgres.close("postgres")
	sharedEjabberd.close("ejabberd")
	sharedReference.close("reference prosody")
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
var sharedPostgres sharedService[*Postgres]

// RequirePostgres returns the shared PostgreSQL cluster, starting it on
// first use; skipped or failed like Require when it is not installed.
func RequirePostgres(t testing.TB) *Postgres {
	t.Helper()
	return sharedPostgres.require(t, StartPostgres)
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
