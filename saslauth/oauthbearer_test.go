package saslauth

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

const testDiscovery = "https://idp.example/realms/x/.well-known/openid-configuration"

var expiry = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func bearerConfig(a Authenticator) Config {
	return Config{Authenticator: a, Domain: "example.com", AllowOAuthBearer: true,
		Scope: "xmpp:client:normal", DiscoveryURL: testDiscovery}
}

func newFakeBearer() *fakeAuth {
	return &fakeAuth{tokens: map[string]Identity{
		"tok-alice":   {Username: "Alice", Expires: expiry},
		"tok-own":     {Username: "alice", Token: "kept", Expires: expiry},
		"tok-comma":   {Username: "a,b=c"},
		"tok-empty":   {},
		"tok-badname": {Username: "a/b"},
	}}
}

func bearerMsg(header, auth string) []byte {
	return []byte(header + "\x01host=xmpp.example.com\x01port=5222\x01auth=" + auth + "\x01\x01")
}

// bearerStep starts an exchange and sends one initial response.
func bearerStep(t *testing.T, cfg Config, msg []byte) (Session, []byte, bool, error) {
	t.Helper()
	s, err := cfg.Start("OAUTHBEARER")
	if err != nil {
		t.Fatal(err)
	}
	ch, done, err := s.Next(context.Background(), msg)
	return s, ch, done, err
}

func TestOAuthBearerSuccess(t *testing.T) {
	tests := []struct {
		name, header, token, user, wantToken string
	}{
		{"plain", "n,", "tok-alice", "alice", "tok-alice"},
		{"y flag", "y,", "tok-alice", "alice", "tok-alice"},
		{"authzid", "n,a=alice@example.com", "tok-alice", "alice", "tok-alice"},
		{"authzid normalised", "n,a=ALICE@Example.Com.", "tok-alice", "alice", "tok-alice"},
		{"authzid with escapes", "n,a=a=2Cb=3Dc@example.com", "tok-comma", "a,b=c", "tok-comma"},
		{"authzid with lower-case escapes", "n,a=a=2cb=3dc@example.com", "tok-comma", "a,b=c", "tok-comma"},
		{"authority's token kept", "n,", "tok-own", "alice", "kept"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newFakeBearer()
			s, ch, done, err := bearerStep(t, bearerConfig(a), bearerMsg(tt.header+",", "Bearer "+tt.token))
			if err != nil || !done || ch != nil {
				t.Fatalf("challenge=%q done=%v err=%v", ch, done, err)
			}
			r := s.Result()
			if r.Username != tt.user || r.Token != tt.wantToken || r.Mechanism != "OAUTHBEARER" || r.Password != "" {
				t.Errorf("result %+v", r)
			}
			if want := a.tokens[tt.token].Expires; !r.Expires.Equal(want) {
				t.Errorf("Expires = %v, want %v", r.Expires, want)
			}
			if !slices.Equal(a.calls, []string{"token"}) {
				t.Errorf("calls %q", a.calls)
			}
		})
	}
}

func TestOAuthBearerWithoutInitialResponse(t *testing.T) {
	a := newFakeBearer()
	s, ch, done, err := bearerStep(t, bearerConfig(a), nil)
	if err != nil || done || ch == nil || len(ch) != 0 {
		t.Fatalf("first step: challenge=%q done=%v err=%v; want empty challenge", ch, done, err)
	}
	ch, done, err = s.Next(context.Background(), bearerMsg("n,,", "Bearer tok-alice"))
	if err != nil || !done || ch != nil || s.Result().Username != "alice" {
		t.Fatalf("second step: challenge=%q done=%v err=%v result=%+v", ch, done, err, s.Result())
	}
	_, done, err = s.Next(context.Background(), []byte{kvsep})
	wantFailure(t, err, MalformedRequest)
	if !done {
		t.Error("step after success not done")
	}
}

func TestOAuthBearerProbeChallenge(t *testing.T) {
	want := `{"status":"invalid_token","scope":"xmpp:client:normal","openid-configuration":"` + testDiscovery + `"}`
	for _, auth := range []string{"", "Bearer", "Bearer ", "bearer   "} {
		a := newFakeBearer()
		s, ch, done, err := bearerStep(t, bearerConfig(a), bearerMsg("n,,", auth))
		if err != nil || done {
			t.Fatalf("auth=%q: done=%v err=%v", auth, done, err)
		}
		if string(ch) != want {
			t.Errorf("auth=%q: challenge\n%s\nwant\n%s", auth, ch, want)
		}
		_, done, err = s.Next(context.Background(), []byte{kvsep})
		f := wantFailure(t, err, NotAuthorized)
		if !done || !errors.Is(f, errBearerProbe) {
			t.Errorf("auth=%q: done=%v cause=%v", auth, done, f.Cause)
		}
		if len(a.calls) != 0 {
			t.Errorf("auth=%q: probe asked the authenticator: %q", auth, a.calls)
		}
		if s.Result() != (Result{}) {
			t.Errorf("auth=%q: result after failure %+v", auth, s.Result())
		}
	}
}

func TestErrorChallengeJSON(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, `{"status":"invalid_token"}`},
		{Config{Scope: "openid xmpp:client:normal"}, `{"status":"invalid_token","scope":"openid xmpp:client:normal"}`},
		{Config{DiscoveryURL: "https://idp.example/.well-known/oauth-authorization-server?a=1&b=<2>"},
			`{"status":"invalid_token","openid-configuration":"https://idp.example/.well-known/oauth-authorization-server?a=1&b=<2>"}`},
		{Config{Scope: `say "hi"`}, `{"status":"invalid_token","scope":"say \"hi\""}`},
	}
	for _, tt := range tests {
		if got := string(tt.cfg.ErrorChallenge()); got != tt.want {
			t.Errorf("ErrorChallenge() = %s, want %s", got, tt.want)
		}
	}
}

func TestOAuthBearerRejectedToken(t *testing.T) {
	a := newFakeBearer()
	cfg := bearerConfig(a)
	s, ch, done, err := bearerStep(t, cfg, bearerMsg("n,,", "Bearer tok-unknown"))
	if err != nil || done || string(ch) != string(cfg.ErrorChallenge()) {
		t.Fatalf("challenge=%q done=%v err=%v", ch, done, err)
	}
	_, done, err = s.Next(context.Background(), []byte{kvsep})
	f := wantFailure(t, err, NotAuthorized)
	if !done || !errors.Is(f, ErrInvalidCredentials) {
		t.Errorf("done=%v cause=%v; want ErrInvalidCredentials", done, f.Cause)
	}
}

func TestOAuthBearerAfterChallengeOnlyKVSep(t *testing.T) {
	for name, resp := range map[string][]byte{
		"absent":      nil,
		"empty":       {},
		"two kvseps":  {kvsep, kvsep},
		"new message": bearerMsg("n,,", "Bearer tok-alice"),
		"NUL":         {0},
	} {
		t.Run(name, func(t *testing.T) {
			a := newFakeBearer()
			s, _, _, err := bearerStep(t, bearerConfig(a), bearerMsg("n,,", "Bearer "))
			if err != nil {
				t.Fatal(err)
			}
			_, done, err := s.Next(context.Background(), resp)
			wantFailure(t, err, MalformedRequest)
			if !done || len(a.calls) != 0 || s.Result() != (Result{}) {
				t.Errorf("done=%v calls=%q result=%+v", done, a.calls, s.Result())
			}
		})
	}
}

func TestOAuthBearerFailures(t *testing.T) {
	tests := []struct {
		name          string
		msg           []byte
		authErr       error
		condition     string
		asksAuthority bool
	}{
		{"authority down", bearerMsg("n,,", "Bearer tok-alice"), ErrTemporary, TemporaryAuthFailure, true},
		{"unclassified error", bearerMsg("n,,", "Bearer tok-alice"), errors.New("boom"), TemporaryAuthFailure, true},
		{"authzid other user", bearerMsg("n,a=bob@example.com,", "Bearer tok-alice"), nil, InvalidAuthzid, true},
		{"authzid other domain", bearerMsg("n,a=alice@example.org,", "Bearer tok-alice"), nil, InvalidAuthzid, true},
		{"authzid full JID", bearerMsg("n,a=alice@example.com/r,", "Bearer tok-alice"), nil, InvalidAuthzid, true},
		{"authzid localpart only", bearerMsg("n,a=alice,", "Bearer tok-alice"), nil, InvalidAuthzid, true},
		{"authzid escaped wrongly", bearerMsg("n,a=a,b=c@example.com,", "Bearer tok-comma"), nil, MalformedRequest, false},
		{"no username from authority", bearerMsg("n,,", "Bearer tok-empty"), nil, NotAuthorized, true},
		{"bad username from authority", bearerMsg("n,,", "Bearer tok-badname"), nil, NotAuthorized, true},
		{"channel binding", bearerMsg("p=tls-exporter,,", "Bearer tok-alice"), nil, MalformedRequest, false},
		{"lone kvsep", []byte{kvsep}, nil, MalformedRequest, false},
		{"empty initial response", []byte{}, nil, MalformedRequest, false},
		{"duplicate auth", []byte("n,,\x01auth=Bearer tok-alice\x01auth=Bearer tok-alice\x01\x01"), nil, MalformedRequest, false},
		{"missing auth", []byte("n,,\x01host=example.com\x01\x01"), nil, MalformedRequest, false},
		{"other scheme", bearerMsg("n,,", "Basic dG9rLWFsaWNl"), nil, MalformedRequest, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newFakeBearer()
			a.err = tt.authErr
			s, ch, done, err := bearerStep(t, bearerConfig(a), tt.msg)
			wantFailure(t, err, tt.condition)
			if !done || ch != nil || s.Result() != (Result{}) {
				t.Errorf("done=%v challenge=%q result=%+v", done, ch, s.Result())
			}
			if asked := len(a.calls) > 0; asked != tt.asksAuthority {
				t.Errorf("authenticator asked = %v, want %v", asked, tt.asksAuthority)
			}
		})
	}
}

func TestOAuthBearerChannelBindingText(t *testing.T) {
	_, _, _, err := bearerStep(t, bearerConfig(newFakeBearer()), bearerMsg("p=tls-unique,,", "Bearer tok-alice"))
	f := wantFailure(t, err, MalformedRequest)
	if f.Text == "" || !errors.Is(f, errGS2ChannelBinding) {
		t.Errorf("Text=%q cause=%v", f.Text, f.Cause)
	}
}

func TestOAuthBearerAbsentMessageAfterEmptyChallenge(t *testing.T) {
	s, _, _, err := bearerStep(t, bearerConfig(newFakeBearer()), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, done, err := s.Next(context.Background(), nil)
	wantFailure(t, err, MalformedRequest)
	if !done {
		t.Error("not done")
	}
}

func TestOAuthBearerBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no authenticator": {Domain: "example.com", AllowOAuthBearer: true},
		"bad domain":       {Authenticator: newFakeBearer(), Domain: "x/y", AllowOAuthBearer: true},
	} {
		_, _, _, err := bearerStep(t, cfg, bearerMsg("n,,", "Bearer tok-alice"))
		if f := wantFailure(t, err, TemporaryAuthFailure); f.Cause == nil {
			t.Errorf("%s: no cause", name)
		}
	}
}
