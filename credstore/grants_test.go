package credstore

import (
	"errors"
	"testing"
)

// A fresh grant needs no recheck; once Recheck has passed Verify says so
// and GrantsDueForRecheck returns it with its refresh token; a successful
// check with a rotated token stores the new token and resets the clock.
func TestGrantRecheckBookkeeping(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		clk := newClock()
		s := b.open(t, withClock(clk))
		ctx := t.Context()
		ap, secret := create(t, s, alice, "phone")
		if mustVerify(t, s, secret, "a").NeedsRecheck {
			t.Error("a grant checked just now needs a recheck")
		}
		if due, err := s.GrantsDueForRecheck(ctx, clk.Now(), 10); err != nil || len(due) != 0 {
			t.Errorf("due right after creation: %v, %v", due, err)
		}

		clk.Advance(DefaultRecheck)
		if !mustVerify(t, s, secret, "a").NeedsRecheck {
			t.Error("Recheck passed, but Verify does not ask for a recheck")
		}
		due, err := s.GrantsDueForRecheck(ctx, clk.Now().Add(-DefaultRecheck/2), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(due) != 1 || due[0].ID != ap.GrantID || due[0].Owner != alice || due[0].RefreshToken.Reveal() != "refresh-phone" {
			t.Fatalf("due = %+v, want alice's grant with its refresh token", due)
		}

		if err := s.UpdateGrantRefreshToken(ctx, ap.GrantID, "rotated-token"); err != nil {
			t.Fatal(err)
		}
		if mustVerify(t, s, secret, "a").NeedsRecheck {
			t.Error("still needs a recheck after a successful one")
		}
		clk.Advance(DefaultRecheck)
		due, err = s.GrantsDueForRecheck(ctx, clk.Now(), 10)
		if err != nil || len(due) != 1 || due[0].RefreshToken.Reveal() != "rotated-token" {
			t.Errorf("after rotation due = %+v, %v; want the rotated token", due, err)
		}
		if err := s.UpdateGrantRefreshToken(ctx, "no-such-grant", ""); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown grant: %v, want ErrNotFound", err)
		}
	})
}

// Disabling a grant refuses every password on it, announces it, forgets
// the refresh token and takes the grant off the recheck list; a grant whose
// passwords were all revoked is off that list too.
func TestDisableGrant(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		clk := newClock()
		s := b.open(t, withClock(clk))
		ctx := t.Context()
		sub := s.Subscribe()
		defer sub.Close()
		first, secret1 := create(t, s, alice, "phone")
		_, secret2, err := s.CreateAppPassword(ctx, NewAppPassword{Owner: alice, Label: "tablet", GrantID: first.GrantID})
		if err != nil {
			t.Fatal(err)
		}
		revokedOnly, _ := create(t, s, alice, "old")
		if err := s.Revoke(ctx, alice.JID, revokedOnly.ID); err != nil {
			t.Fatal(err)
		}
		if ev := nextEvent(t, sub); ev.Kind != EventCredentialRevoked || ev.CredentialID != revokedOnly.ID {
			t.Errorf("event %+v, want the revocation of %s", ev, revokedOnly.ID)
		}

		if err := s.DisableGrant(ctx, first.GrantID, "invalid_grant"); err != nil {
			t.Fatal(err)
		}
		want := Event{Kind: EventGrantDisabled, Owner: alice.JID, GrantID: first.GrantID, Reason: "invalid_grant"}
		if ev := nextEvent(t, sub); ev != want {
			t.Errorf("event %+v, want %+v", ev, want)
		}
		for _, secret := range []Secret{secret1, secret2} {
			if _, err := s.Verify(ctx, alice.JID, secret.Reveal(), "a"); !errors.Is(err, ErrRevoked) {
				t.Errorf("Verify on a disabled grant: %v, want ErrRevoked", err)
			}
		}
		clk.Advance(2 * DefaultRecheck)
		if due, err := s.GrantsDueForRecheck(ctx, clk.Now(), 10); err != nil || len(due) != 0 {
			t.Errorf("due = %+v, %v; want neither the disabled nor the all-revoked grant", due, err)
		}
		if err := s.DisableGrant(ctx, first.GrantID, "again"); !errors.Is(err, ErrNotFound) {
			t.Errorf("disabling twice: %v, want ErrNotFound", err)
		}
		var token []byte
		if err := s.read.QueryRowContext(ctx, `SELECT refresh_token FROM grants WHERE id = $1`, first.GrantID).Scan(&token); err != nil || token != nil {
			t.Errorf("refresh token of a disabled grant: %d bytes, %v; want none", len(token), err)
		}
	})
}

// Old ciphertexts decrypt once a new current key is added; Rotate
// re-encrypts them, after which the old key can go; without the old key
// before Rotate, reading fails with a clean error.
func TestKeyRotation(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		clk := newClock()
		ctx := t.Context()
		withKeys := func(keys ...EncryptionKey) func(*Config) {
			return func(c *Config) { c.EncryptionKeys = keys; c.Now = clk.Now }
		}
		old := b.open(t, withKeys(keyA))
		ap, _ := create(t, old, alice, "phone")
		old.Close()
		clk.Advance(2 * DefaultRecheck)
		tokenOf := func(s *Store) (string, error) {
			due, err := s.GrantsDueForRecheck(ctx, clk.Now(), 10)
			if err != nil {
				return "", err
			}
			if len(due) != 1 || due[0].ID != ap.GrantID {
				t.Fatalf("due = %+v, want grant %s", due, ap.GrantID)
			}
			return due[0].RefreshToken.Reveal(), nil
		}

		onlyNew := b.open(t, withKeys(keyB))
		if _, err := tokenOf(onlyNew); err == nil || !errors.Is(err, errUnknownKey) {
			t.Errorf("without the old key: %v, want an unknown-key error", err)
		}
		onlyNew.Close()

		both := b.open(t, withKeys(keyB, keyA))
		if tok, err := tokenOf(both); err != nil || tok != "refresh-phone" {
			t.Errorf("with both keys: %q, %v", tok, err)
		}
		if n, err := both.Rotate(ctx); err != nil || n != 1 {
			t.Errorf("Rotate = %d, %v; want 1", n, err)
		}
		if n, err := both.Rotate(ctx); err != nil || n != 0 {
			t.Errorf("second Rotate = %d, %v; want 0", n, err)
		}
		both.Close()

		clk.Advance(DefaultRecheckLease) // tokenOf(both) claimed the grant
		rotated := b.open(t, withKeys(keyB))
		if tok, err := tokenOf(rotated); err != nil || tok != "refresh-phone" {
			t.Errorf("after Rotate, new key only: %q, %v", tok, err)
		}
	})
}
