package testenv

import "testing"

// The ejabberd shared by all tests of one test binary.
var sharedEjabberd sharedService[*Ejabberd]

// RequireEjabberd returns the shared ejabberd, starting it on first use;
// skipped or failed like Require when it is not installed.
func RequireEjabberd(t testing.TB) *Ejabberd {
	t.Helper()
	return sharedEjabberd.require(t, StartEjabberd)
}

// The reference Prosody (StartReferenceProsody) shared by all tests of one
// test binary.
var sharedReference sharedService[*Prosody]

// RequireReferenceProsody returns the shared reference Prosody with
// prosody-modules' SASL2 stack, starting it on first use; skipped or failed
// like Require when it (or prosody-modules) is not installed.
func RequireReferenceProsody(t testing.TB) *Prosody {
	t.Helper()
	return sharedReference.require(t, StartReferenceProsody)
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
