package testenv

import (
	"context"
	"sync"
	"testing"
)

// The ejabberd shared by all tests of one test binary, started by the first
// test that asks: binaries that never ask pay nothing.
var sharedEjabberd struct {
	once sync.Once
	ej   *Ejabberd
	err  error
}

// RequireEjabberd returns the shared ejabberd, starting it on first use;
// skipped or failed like Require when it is not installed.
func RequireEjabberd(t testing.TB) *Ejabberd {
	t.Helper()
	sharedEjabberd.once.Do(func() {
		// Not t.Context(): the server outlives this test.
		sharedEjabberd.ej, sharedEjabberd.err = StartEjabberd(context.Background(), t.Logf)
	})
	skipOrFail(t, sharedEjabberd.err)
	return sharedEjabberd.ej
}

// RequireServer returns the shared upstream server called name
// (ServerProsody or ServerEjabberd).
func RequireServer(t testing.TB, name string) Server {
	t.Helper()
	switch name {
	case ServerProsody:
		return Require(t).Prosody
	case ServerEjabberd:
		return RequireEjabberd(t)
	}
	t.Fatalf("testenv: no server %q", name)
	return nil
}

// ForEachServer runs f as a subtest per upstream server (ServerNames), each
// with its shared instance.
func ForEachServer(t *testing.T, f func(t *testing.T, srv Server)) {
	t.Helper()
	for _, name := range ServerNames {
		t.Run(name, func(t *testing.T) { f(t, RequireServer(t, name)) })
	}
}
