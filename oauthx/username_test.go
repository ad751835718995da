package oauthx

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestLookupField(t *testing.T) {
	var claims map[string]any
	if err := json.Unmarshal([]byte(`{"preferred_username":"alice","n":1,"user":{"name":"bob","ids":["x"],"deep":{"x":"carol"}}}`), &claims); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"preferred_username": "alice", "user.name": "bob", "user.deep.x": "carol",
		"n": "", "user": "", "user.ids": "", "missing": "", "user.missing": "", "preferred_username.x": "",
	} {
		got, ok := lookupField(claims, path)
		if got != want || ok != (want != "") {
			t.Errorf("lookupField(%q) = %q, %v; want %q", path, got, ok, want)
		}
	}
}

func TestNormaliseUsername(t *testing.T) {
	for _, tc := range []struct {
		in    string
		split bool
		want  string // "" means rejected as a bad username
	}{
		{"alice", false, "alice"},
		{"ALICE", false, "alice"},
		{"ＡＬＩＣＥ", false, "alice"}, // fullwidth, mapped by PRECIS
		{"Ärger", false, "ärger"},
		{"alice@example.com", true, "alice"},
		{"alice@example.com", false, ""}, // @ cannot be in a localpart
		{"alice smith", false, ""},       // space is disallowed in UsernameCaseMapped
		{"", false, ""},
		{"@realm", true, ""},
		{"a/b", false, ""},
		{"it's", false, ""},
		{"\u0000x", false, ""},
	} {
		got, err := normaliseUsername(tc.in, tc.split)
		if tc.want == "" {
			if !errors.Is(err, errBadUsername) {
				t.Errorf("%q split=%v: got %q, %v; want errBadUsername", tc.in, tc.split, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q split=%v: got %q, %v; want %q", tc.in, tc.split, got, err, tc.want)
		}
	}
}

// The username field and mapping apply to what the server says, end to end.
func TestUsernameFieldAndMapping(t *testing.T) {
	f := newFakeIdP(t)
	f.opaque = true
	f.claims["user"] = map[string]any{"mail": "Carol@Example.COM"}
	cfg := f.config(ValidationUserinfo)
	cfg.UsernameField = "user.mail"
	cfg.UsernameMapping = "split"
	cfg.UsernameRealms = []string{"example.com"}
	c, _ := start(t, cfg)
	id, err := c.ValidateToken(t.Context(), f.issue("alice"))
	if err != nil || id.Username != "carol" {
		t.Errorf("ValidateToken = %+v, %v; want carol", id, err)
	}
}

// split keeps only the localpart, so the realm must be one we accept:
// alice@example.com and alice@other.org must not both become alice.
func TestUsernameRealms(t *testing.T) {
	f := newFakeIdP(t)
	f.opaque = true
	cfg := f.config(ValidationUserinfo)
	cfg.CacheSize = -1
	cfg.UsernameField = "mail"
	cfg.UsernameMapping = "split"
	cfg.UsernameRealms = []string{"example.com", "corp.example"}
	c, logs := start(t, cfg)
	for mail, want := range map[string]string{
		"alice@Example.COM.": "alice@example.com", "alice@corp.example": "alice@corp.example",
		"alice@other.org": "", "alice": "", "alice@example.com@other.org": "",
	} {
		f.mu.Lock()
		f.claims["mail"] = mail
		f.mu.Unlock()
		id, err := c.ValidateToken(t.Context(), f.issue("alice"))
		if want != "" {
			if err != nil || id.Username+"@"+id.Realm != want {
				t.Errorf("%s: %+v, %v; want %s", mail, id, err, want)
			}
			continue
		}
		wantClass(t, mail, err, ErrInvalidToken)
		_, err = c.PasswordLogin(t.Context(), "alice", "alice-pw")
		wantClass(t, mail+" (PLAIN)", err, ErrInvalidCredentials)
	}
	if !strings.Contains(logs.String(), `realm \"other.org\"`) {
		t.Errorf("no log line names the refused realm: %s", logs.String())
	}
	cfg.UsernameRealms = nil
	if _, err := New(cfg); !errors.Is(err, ErrMisconfigured) {
		t.Errorf("split without realms: %v, want ErrMisconfigured", err)
	}
}
