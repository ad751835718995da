package credstore

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// No app password, refresh token, key or DSN password shows in String or
// fmt output of any value the package hands out, in JSON, or in any error,
// including the ones from a failed connection and a failed decryption.
func TestSecretsNeverPrinted(t *testing.T) {
	const (
		refreshToken = "rt-never-printed-4711"
		dsnPassword  = "dsn-never-printed-0815"
	)
	b := sqliteBackend(t)
	clk := newClock()
	s := b.open(t, withClock(clk))
	ctx := t.Context()
	ap, secret, err := s.CreateAppPassword(ctx, NewAppPassword{Owner: alice, Label: "phone", RefreshToken: refreshToken})
	if err != nil {
		t.Fatal(err)
	}
	verified, err := s.Verify(ctx, alice.JID, secret.Reveal(), "a")
	if err != nil {
		t.Fatal(err)
	}
	grants, err := s.GrantsDueForRecheck(ctx, clk.Now().Add(DefaultRecheck), 10)
	if err != nil || len(grants) != 1 || grants[0].RefreshToken.Reveal() != refreshToken {
		t.Fatalf("grants = %+v, %v", grants, err)
	}

	var out []string
	printAll := func(v any) {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
			out = append(out, fmt.Sprintf(verb, v))
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Errorf("json.Marshal(%T): %v", v, err)
		}
		out = append(out, string(j))
	}
	pgConfig := Config{Driver: DriverPostgres, DSN: "host=127.0.0.1 port=1 user=x password=" + dsnPassword,
		HashKey: testHashKey, EncryptionKeys: []EncryptionKey{keyA, keyB}}
	sqliteConfig := b.base
	sqliteConfig.HashKey, sqliteConfig.EncryptionKeys = testHashKey, []EncryptionKey{keyA}
	for _, v := range []any{secret, ap, verified, grants, grants[0], keyA, pgConfig, sqliteConfig, &pgConfig} {
		printAll(v)
	}

	var errs []error
	// A connection that fails, a DSN that does not parse, a short hash key.
	_, err = Open(ctx, pgConfig)
	errs = append(errs, err)
	bad := pgConfig
	bad.DSN = "postgres://x:" + dsnPassword + "@127.0.0.1:1/db?sslmode=%zz"
	_, err = Open(ctx, bad)
	errs = append(errs, err)
	bad = sqliteConfig
	bad.HashKey = testHashKey[:31]
	_, err = Open(ctx, bad)
	errs = append(errs, err)
	// A key with the right id but the wrong bytes.
	wrongA := EncryptionKey{ID: keyA.ID, Key: keyB.Key}
	other := b.open(t, withClock(clk), func(c *Config) { c.EncryptionKeys = []EncryptionKey{wrongA} })
	clk.Advance(DefaultRecheckLease) // the first call's claim has lapsed
	_, err = other.GrantsDueForRecheck(ctx, clk.Now().Add(DefaultRecheck), 10)
	errs = append(errs, err)
	_, err = s.Verify(ctx, "bob@example.org", secret.Reveal(), "a")
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Errorf("error case %d did not fail", i)
			continue
		}
		out = append(out, err.Error(), fmt.Sprintf("%+v", err))
	}
	if !errors.Is(errs[4], ErrNotFound) {
		t.Errorf("wrong owner: %v", errs[4])
	}

	secrets := map[string]string{
		"app password":            secret.Reveal(),
		"app password, bare":      strings.ReplaceAll(secret.Reveal(), "-", ""),
		"refresh token":           refreshToken,
		"DSN password":            dsnPassword,
		"hash key (hex)":          hex.EncodeToString(testHashKey),
		"encryption key (hex)":    hex.EncodeToString(keyA.Key),
		"hash key (raw)":          string(testHashKey),
		"encryption key (bytes)":  fmt.Sprint(keyA.Key[:8]),
		"encryption key (raw)":    string(keyB.Key),
		"encryption key B (hex)":  hex.EncodeToString(keyB.Key),
		"hash key (bytes)":        fmt.Sprint(testHashKey[:8]),
		"app password (hex)":      hex.EncodeToString([]byte(secret.Reveal())),
		"refresh token (hex)":     hex.EncodeToString([]byte(refreshToken)),
		"refresh token (partial)": refreshToken[3:],
		"hash key (base64)":       base64.StdEncoding.EncodeToString(testHashKey)[:16],
		"encryption key (base64)": base64.StdEncoding.EncodeToString(keyA.Key)[:16],
	}
	for _, o := range out {
		for what, s := range secrets {
			if strings.Contains(o, strings.Trim(s, "[]")) {
				t.Errorf("%s shows in %q", what, o)
			}
		}
	}
}
