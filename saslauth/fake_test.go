package saslauth

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// fakeAuth is a table-driven Authenticator. Passwords are keyed by the localpart
// it is asked about; err, when set, is returned for every call.
type fakeAuth struct {
	passwords map[string]string   // localpart -> password
	renames   map[string]string   // localpart -> username the authority reports
	tokens    map[string]Identity // token -> identity
	err       error
	calls     []string // "password:<user>" or "token"
}

func (f *fakeAuth) CheckPassword(_ context.Context, username, password string) (Identity, error) {
	f.calls = append(f.calls, "password:"+username)
	if f.err != nil {
		return Identity{}, f.err
	}
	if pw, ok := f.passwords[username]; !ok || pw != password {
		return Identity{}, ErrInvalidCredentials
	}
	name, ok := f.renames[username]
	if !ok {
		name = username
	}
	return Identity{Username: name, Token: "access-" + name}, nil
}

func (f *fakeAuth) CheckToken(_ context.Context, token string) (Identity, error) {
	f.calls = append(f.calls, "token")
	if f.err != nil {
		return Identity{}, f.err
	}
	id, ok := f.tokens[token]
	if !ok {
		return Identity{}, ErrInvalidCredentials
	}
	return id, nil
}

// leakyErr imitates an adapter that quotes the secret in its error.
func leakyErr(class error, secret string) error {
	return fmt.Errorf("POST /token password=%s token=%s: %w", secret, secret, class)
}

// knownConditions are the only conditions Next may report.
var knownConditions = map[string]bool{
	Aborted: true, InvalidAuthzid: true, InvalidMechanism: true,
	MalformedRequest: true, NotAuthorized: true, TemporaryAuthFailure: true,
}

// wantFailure asserts err is a *Failure with the condition and returns it.
func wantFailure(t *testing.T, err error, condition string) *Failure {
	t.Helper()
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("error %v (%T) is not a *Failure", err, err)
	}
	if f.Condition != condition {
		t.Fatalf("condition = %q, want %q (cause: %v)", f.Condition, condition, f.Cause)
	}
	return f
}
