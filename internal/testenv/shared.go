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

// Main is for TestMain: it runs the tests, closes the shared environment
// (if a test started it) and exits with the tests' status.
func Main(m *testing.M) {
	code := m.Run()
	if shared.env != nil {
		if err := shared.env.Close(); err != nil {
			os.Stderr.WriteString("testenv: close: " + err.Error() + "\n")
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
	switch err := shared.err; {
	case err == nil:
		return shared.env
	case errors.Is(err, ErrUnavailable) && os.Getenv("CI") != "true":
		t.Skip(err)
	default:
		t.Fatal(err)
	}
	return nil
}
