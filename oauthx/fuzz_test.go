package oauthx

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Usernames come from the authorization server's JSON: whatever is accepted is
// a stable (idempotent), non-empty localpart.
func FuzzNormaliseUsername(f *testing.F) {
	for _, s := range []string{"alice", "ALICE@Example.com", "ＡＬＩＣＥ", "a b", "", "@", "ǅ", "\u212a"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in string, split bool) {
		out, err := normaliseUsername(in, split)
		if err != nil {
			if !errors.Is(err, errBadUsername) {
				t.Fatalf("error %v is not errBadUsername", err)
			}
			return
		}
		if out == "" || len(out) > maxLocalpart || strings.ContainsAny(out, "\"&'/:<>@") {
			t.Fatalf("accepted %q as %q", in, out)
		}
		if again, err := normaliseUsername(out, false); err != nil || again != out {
			t.Fatalf("not stable: %q -> %q -> %q, %v", in, out, again, err)
		}
	})
}

// The username field is looked up in arbitrary JSON.
func FuzzLookupField(f *testing.F) {
	f.Add(`{"preferred_username":"alice"}`, "preferred_username")
	f.Add(`{"a":{"b":{"c":"x"}}}`, "a.b.c")
	f.Add(`{"a":[{"b":"x"}]}`, "a.b")
	f.Add(`{"a":null}`, "a.b")
	f.Fuzz(func(t *testing.T, doc, path string) {
		var claims map[string]any
		if json.Unmarshal([]byte(doc), &claims) != nil {
			return
		}
		v, ok := lookupField(claims, path)
		if !ok && v != "" {
			t.Fatalf("not found but value %q", v)
		}
		if ok && !strings.Contains(path, ".") && claims[path] != v {
			t.Fatalf("top-level %q: got %q, map has %v", path, v, claims[path])
		}
	})
}

// Tokens are untrusted input to the local JWT check: it never panics, never
// fetches keys here (the refresh is rate-limited away), and a token it accepts
// must carry a valid username.
func FuzzVerifyJWT(f *testing.F) {
	key := newRSAKey(f)
	const iss = "https://idp.example/realm"
	good := signJWT(f, key, "k1", "at+jwt", iss, time.Hour, map[string]any{"preferred_username": "alice"})
	f.Add(good)
	f.Add(tamper(good))
	f.Add(signJWT(f, key, "k2", "JWT", iss, -time.Hour, map[string]any{"preferred_username": "bob"}))
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("a.b.c")
	f.Add(signJWT(f, key, "k1", "JWT", iss, time.Hour, map[string]any{"preferred_username": "alice", "aud": "proxy", "at_hash": "x"}))
	c, err := New(Config{Issuer: iss, JWKSURL: "http://127.0.0.1:1/jwks", Validation: ValidationJWT})
	if err != nil {
		f.Fatal(err)
	}
	c.keys.keys = &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}}
	c.keys.from = "http://127.0.0.1:1/jwks"
	c.keys.lastForced = time.Now().Add(24 * time.Hour)
	f.Fuzz(func(t *testing.T, token string) {
		cl, err := c.verifyJWT(context.Background(), merge(c.cfg, &metadata{Issuer: iss}, ""), token)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v is not ErrInvalidToken", err)
			}
			return
		}
		id, err := c.identityFromJWT(cl, token)
		if err == nil && id.Username == "" {
			t.Fatal("accepted with an empty username")
		}
	})
}

// The unverified pre-check of tokens bound for userinfo or introspection sees
// untrusted payloads: it never panics and only refuses as ErrInvalidToken.
func FuzzPrecheckJWT(f *testing.F) {
	key := newRSAKey(f)
	f.Add(signJWT(f, key, "k1", "JWT", "https://idp", time.Hour, map[string]any{"aud": []any{"a", 1, nil}, "at_hash": "x"}))
	f.Add(signJWT(f, key, "k1", "at+jwt", "https://idp", time.Hour, map[string]any{"aud": 7, "nonce": map[string]any{}}))
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOlt7fV19.c2ln")
	c, err := New(Config{Issuer: "https://idp", ClientID: "proxy", Validation: ValidationUserinfo})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, token string) {
		if err := c.precheckJWT("fuzz", token); err != nil && !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("error %v is not ErrInvalidToken", err)
		}
	})
}
