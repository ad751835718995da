package saslauth

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

func plainConfig(a Authenticator) Config {
	return Config{Authenticator: a, Domain: "example.com", AllowPlain: true}
}

func newFakePlain() *fakeAuth {
	return &fakeAuth{
		passwords: map[string]string{"alice": "secret", "al": "pw-al", "root": "pw-root"},
		renames:   map[string]string{"al": "alice", "root": "bad/name"},
	}
}

// plainOnce runs a PLAIN exchange with an initial response.
func plainOnce(t *testing.T, cfg Config, msg string) (Result, error) {
	t.Helper()
	s, err := cfg.Start("PLAIN")
	if err != nil {
		t.Fatal(err)
	}
	ch, done, err := s.Next(context.Background(), []byte(msg))
	if !done || ch != nil {
		t.Fatalf("PLAIN single step: challenge=%q done=%v", ch, done)
	}
	return s.Result(), err
}

func TestPlainSuccess(t *testing.T) {
	tests := []struct {
		name, msg, asked, user string
	}{
		{"localpart", "\x00alice\x00secret", "alice", "alice"},
		{"upper case", "\x00ALICE\x00secret", "alice", "alice"},
		{"fullwidth", "\x00ＡＬＩＣＥ\x00secret", "alice", "alice"},
		{"bare JID", "\x00alice@example.com\x00secret", "alice", "alice"},
		{"bare JID mixed case", "\x00Alice@EXAMPLE.com\x00secret", "alice", "alice"},
		{"bare JID trailing dot", "\x00alice@example.com.\x00secret", "alice", "alice"},
		{"authzid bare JID", "alice@example.com\x00alice\x00secret", "alice", "alice"},
		{"authzid normalised", "ALICE@Example.COM\x00alice\x00secret", "alice", "alice"},
		{"authority renames", "\x00al\x00pw-al", "al", "alice"},
		{"authzid of renamed user", "alice@example.com\x00al\x00pw-al", "al", "alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newFakePlain()
			r, err := plainOnce(t, plainConfig(a), tt.msg)
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !slices.Equal(a.calls, []string{"password:" + tt.asked}) {
				t.Errorf("authenticator calls = %q, want password:%s", a.calls, tt.asked)
			}
			if r.Username != tt.user || r.Mechanism != "PLAIN" || r.Token != "access-"+tt.user {
				t.Errorf("result = %+v", r)
			}
			if want := tt.msg[strings.LastIndexByte(tt.msg, 0)+1:]; r.Password != want {
				t.Errorf("Password = %q, want %q", r.Password, want)
			}
		})
	}
}

// emptyNameAuth vouches for any password "ok" without naming the user, like an
// adapter with no validation endpoint.
type emptyNameAuth struct{ fakeAuth }

func (emptyNameAuth) CheckPassword(_ context.Context, _, password string) (Identity, error) {
	if password != "ok" {
		return Identity{}, ErrInvalidCredentials
	}
	return Identity{Token: "t"}, nil
}

func TestPlainEmptyIdentityKeepsTypedName(t *testing.T) {
	r, err := plainOnce(t, plainConfig(&emptyNameAuth{}), "\x00Bob@example.com\x00ok")
	if err != nil || r.Username != "bob" {
		t.Fatalf("result %+v, err %v; want username bob", r, err)
	}
}

func TestPlainFailures(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name, msg, condition string
		authErr              error
		asksAuthority        bool
	}{
		{"wrong password", "\x00alice\x00nope", NotAuthorized, nil, true},
		{"unknown user", "\x00mallory\x00secret", NotAuthorized, nil, true},
		{"temporary", "\x00alice\x00secret", TemporaryAuthFailure, ErrTemporary, true},
		{"unclassified error", "\x00alice\x00secret", TemporaryAuthFailure, errors.New("boom"), true},
		{"wrapped invalid", "\x00alice\x00secret", NotAuthorized, leakyErr(ErrInvalidCredentials, "secret"), true},
		{"foreign domain", "\x00alice@example.org\x00secret", NotAuthorized, nil, false},
		{"full JID", "\x00alice@example.com/phone\x00secret", NotAuthorized, nil, false},
		{"empty localpart", "\x00@example.com\x00secret", NotAuthorized, nil, false},
		{"empty domain", "\x00alice@\x00secret", NotAuthorized, nil, false},
		{"slash in localpart", "\x00a/b\x00secret", NotAuthorized, nil, false},
		{"colon in localpart", "\x00a:b\x00secret", NotAuthorized, nil, false},
		{"space in localpart", "\x00a b\x00secret", NotAuthorized, nil, false},
		{"localpart too long", "\x00" + long(1024) + "\x00secret", NotAuthorized, nil, false},
		{"authority gives bad name", "\x00root\x00pw-root", NotAuthorized, nil, true},
		{"authzid other user", "bob@example.com\x00alice\x00secret", InvalidAuthzid, nil, true},
		{"authzid full JID", "alice@example.com/r\x00alice\x00secret", InvalidAuthzid, nil, true},
		{"authzid localpart only", "alice\x00alice\x00secret", InvalidAuthzid, nil, true},
		{"authzid other domain", "alice@example.org\x00alice\x00secret", InvalidAuthzid, nil, true},
		{"authzid typed not authenticated", "al@example.com\x00al\x00pw-al", InvalidAuthzid, nil, true},
		{"authzid but wrong password", "bob@example.com\x00alice\x00nope", NotAuthorized, nil, true},
		{"empty message", "", MalformedRequest, nil, false},
		{"no NUL", "alice", MalformedRequest, nil, false},
		{"one NUL", "alice\x00secret", MalformedRequest, nil, false},
		{"three NULs", "\x00alice\x00sec\x00ret", MalformedRequest, nil, false},
		{"empty authcid", "\x00\x00secret", MalformedRequest, nil, false},
		{"empty password", "\x00alice\x00", MalformedRequest, nil, false},
		{"bad UTF-8 authzid", "\xff\x00alice\x00secret", MalformedRequest, nil, false},
		{"bad UTF-8 authcid", "\x00al\xc3ice\x00secret", MalformedRequest, nil, false},
		{"bad UTF-8 password", "\x00alice\x00sec\xe2\x82", MalformedRequest, nil, false},
		{"authzid too long", long(3072) + "\x00alice\x00secret", MalformedRequest, nil, false},
		{"authcid too long", "\x00" + long(2048) + "\x00secret", MalformedRequest, nil, false},
		{"password too long", "\x00alice\x00" + long(4097), MalformedRequest, nil, false},
		{"message too long", long(maxPlainMessage+1) + "\x00a\x00b", MalformedRequest, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newFakePlain()
			a.err = tt.authErr
			r, err := plainOnce(t, plainConfig(a), tt.msg)
			wantFailure(t, err, tt.condition)
			if r != (Result{}) {
				t.Errorf("failed exchange has result %+v", r)
			}
			if asked := len(a.calls) > 0; asked != tt.asksAuthority {
				t.Errorf("authenticator asked = %v, want %v", asked, tt.asksAuthority)
			}
		})
	}
}

func TestPlainSizeBoundsInclusive(t *testing.T) {
	pw := strings.Repeat("p", maxPlainPassword)
	a := &fakeAuth{passwords: map[string]string{"alice": pw}}
	authzid := "alice@example.com"
	if _, err := plainOnce(t, plainConfig(a), authzid+"\x00alice\x00"+pw); err != nil {
		t.Fatalf("password of exactly %d bytes: %v", maxPlainPassword, err)
	}
}

func TestPlainWithoutInitialResponse(t *testing.T) {
	s, _ := plainConfig(newFakePlain()).Start("PLAIN")
	ctx := context.Background()
	ch, done, err := s.Next(ctx, nil)
	if err != nil || done || ch == nil || len(ch) != 0 {
		t.Fatalf("first step: challenge=%q done=%v err=%v; want empty challenge", ch, done, err)
	}
	if _, done, err = s.Next(ctx, []byte("\x00alice\x00secret")); err != nil || !done {
		t.Fatalf("second step: done=%v err=%v", done, err)
	}
	if s.Result().Username != "alice" {
		t.Errorf("result %+v", s.Result())
	}
	_, done, err = s.Next(ctx, []byte("\x00alice\x00secret"))
	wantFailure(t, err, MalformedRequest)
	if !done {
		t.Error("step after success not done")
	}
}

func TestPlainAbsentResponseAfterChallenge(t *testing.T) {
	s, _ := plainConfig(newFakePlain()).Start("PLAIN")
	ctx := context.Background()
	if _, _, err := s.Next(ctx, nil); err != nil {
		t.Fatal(err)
	}
	_, done, err := s.Next(ctx, nil)
	wantFailure(t, err, MalformedRequest)
	if !done {
		t.Error("not done after failure")
	}
}

func TestPlainEmptyInitialResponseIsMalformed(t *testing.T) {
	// "=" in XMPP: present but empty, unlike an absent one.
	s, _ := plainConfig(newFakePlain()).Start("PLAIN")
	_, _, err := s.Next(context.Background(), []byte{})
	wantFailure(t, err, MalformedRequest)
}

func TestPlainBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no authenticator": {Domain: "example.com", AllowPlain: true},
		"bad domain":       {Authenticator: newFakePlain(), Domain: "a@b", AllowPlain: true},
		"empty domain":     {Authenticator: newFakePlain(), AllowPlain: true},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := plainOnce(t, cfg, "\x00alice\x00secret")
			wantFailure(t, err, TemporaryAuthFailure)
		})
	}
}
