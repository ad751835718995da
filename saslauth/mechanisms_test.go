package saslauth

import (
	"slices"
	"testing"
)

func TestMechanisms(t *testing.T) {
	tests := []struct {
		plain, bearer bool
		want          []string
	}{
		{false, false, nil},
		{true, false, []string{"PLAIN"}},
		{false, true, []string{"OAUTHBEARER"}},
		{true, true, []string{"OAUTHBEARER", "PLAIN"}},
	}
	for _, tt := range tests {
		c := Config{AllowPlain: tt.plain, AllowOAuthBearer: tt.bearer}
		if got := c.Mechanisms(); !slices.Equal(got, tt.want) {
			t.Errorf("plain=%v bearer=%v: Mechanisms() = %q, want %q", tt.plain, tt.bearer, got, tt.want)
		}
	}
}

func TestStart(t *testing.T) {
	both := Config{AllowPlain: true, AllowOAuthBearer: true}
	for _, mech := range []string{"PLAIN", "OAUTHBEARER"} {
		s, err := both.Start(mech)
		if err != nil || s == nil {
			t.Fatalf("Start(%q) = %v, %v", mech, s, err)
		}
	}
	tests := []struct {
		cfg  Config
		mech string
	}{
		{Config{AllowOAuthBearer: true}, "PLAIN"},
		{Config{AllowPlain: true}, "OAUTHBEARER"},
		{both, "plain"}, // names are case-sensitive
		{both, "SCRAM-SHA-1"},
		{both, "X-OAUTH2"},
		{both, ""},
	}
	for _, tt := range tests {
		s, err := tt.cfg.Start(tt.mech)
		if s != nil {
			t.Errorf("Start(%q) returned a session", tt.mech)
		}
		wantFailure(t, err, InvalidMechanism)
	}
}
