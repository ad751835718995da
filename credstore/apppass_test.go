package credstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// A created password verifies as typed with spaces or capitals, shows up in
// List without its secret, and after Revoke is refused and listed revoked.
func TestCreateVerifyListRevoke(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		ctx := t.Context()
		ap, secret := create(t, s, alice, "Phone <b>")
		typed := []string{
			secret.Reveal(),
			strings.ToUpper(secret.Reveal()),
			strings.ReplaceAll(secret.Reveal(), "-", " "),
			strings.ReplaceAll(secret.Reveal(), "-", ""),
		}
		for _, pw := range typed {
			v, err := s.Verify(ctx, alice.JID, pw, "192.0.2.1")
			if err != nil {
				t.Fatalf("Verify(%q variant): %v", pw[:3], err)
			}
			if v.ID != ap.ID || v.GrantID != ap.GrantID || v.Subject != alice.Subject || v.Label != "Phone <b>" {
				t.Errorf("Verify = %+v, want id %s grant %s of %v", v, ap.ID, ap.GrantID, alice)
			}
		}

		list, err := s.List(ctx, alice.JID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != ap.ID || list[0].LastUsedAddr != "192.0.2.1" || list[0].LastUsedAt.IsZero() {
			t.Fatalf("List = %+v, want the one password, used from 192.0.2.1", list)
		}

		if err := s.Revoke(ctx, alice.JID, ap.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Verify(ctx, alice.JID, secret.Reveal(), "192.0.2.1"); !errors.Is(err, ErrRevoked) {
			t.Errorf("Verify after Revoke: %v, want ErrRevoked", err)
		}
		if err := s.Revoke(ctx, alice.JID, ap.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("second Revoke: %v, want ErrNotFound", err)
		}
		list, err = s.List(ctx, alice.JID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].RevokedAt.IsZero() || list[0].RevokedReason != ReasonRevokedByUser {
			t.Errorf("List after Revoke = %+v, want it revoked by the user", list)
		}
	})
}

// Another user's name with a valid password, an unknown password and
// malformed input are all ErrNotFound; another user cannot revoke it.
func TestVerifyAndRevokeRefuseOtherOwners(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		ctx := t.Context()
		ap, secret := create(t, s, alice, "laptop")
		other := newAppPassword()
		for name, c := range map[string]struct{ jid, pw string }{
			"wrong owner":      {"bob@example.org", secret.Reveal()},
			"owner's domain":   {"alice@example.net", secret.Reveal()},
			"unknown password": {alice.JID, other},
			"too short":        {alice.JID, secret.Reveal()[:20]},
			"not letters":      {alice.JID, strings.Repeat("1", 30)},
			"empty":            {alice.JID, ""},
		} {
			if _, err := s.Verify(ctx, c.jid, c.pw, "192.0.2.1"); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: Verify = %v, want ErrNotFound", name, err)
			}
		}
		if err := s.Revoke(ctx, "bob@example.org", ap.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Revoke by bob: %v, want ErrNotFound", err)
		}
		if _, err := s.Verify(ctx, alice.JID, secret.Reveal(), "192.0.2.1"); err != nil {
			t.Errorf("alice's password after bob's attempts: %v", err)
		}
	})
}

// Labels longer than MaxLabelLength characters, empty ones and ones with
// control characters are refused and nothing is stored.
func TestLabelBounds(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		ctx := t.Context()
		longest := strings.Repeat("é", MaxLabelLength)
		create(t, s, alice, longest)
		for _, label := range []string{longest + "x", "", "line\nbreak", "bell\a", string([]byte{0xff})} {
			_, _, err := s.CreateAppPassword(ctx, NewAppPassword{Owner: alice, Label: label, RefreshToken: "rt"})
			if !errors.Is(err, ErrInvalidLabel) {
				t.Errorf("label %q: %v, want ErrInvalidLabel", label, err)
			}
		}
		list, err := s.List(ctx, alice.JID)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].Label != longest {
			t.Errorf("List = %+v, want only the %d-character label", list, MaxLabelLength)
		}
	})
}

// A second password may join the grant of the first (one sign-in), but not
// a grant of another owner.
func TestCreateOnExistingGrant(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		ctx := t.Context()
		first, _ := create(t, s, alice, "phone")
		second, secret, err := s.CreateAppPassword(ctx, NewAppPassword{Owner: alice, Label: "tablet", GrantID: first.GrantID})
		if err != nil {
			t.Fatal(err)
		}
		if second.GrantID != first.GrantID {
			t.Errorf("grant %s, want %s", second.GrantID, first.GrantID)
		}
		if v, err := s.Verify(ctx, alice.JID, secret.Reveal(), "a"); err != nil || v.GrantID != first.GrantID {
			t.Errorf("Verify = %+v, %v", v, err)
		}
		bob := Owner{JID: "bob@example.org", Subject: "sub-bob"}
		_, _, err = s.CreateAppPassword(ctx, NewAppPassword{Owner: bob, Label: "x", GrantID: first.GrantID})
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("bob on alice's grant: %v, want ErrNotFound", err)
		}
	})
}

// Parallel creates, verifies and revokes all succeed, each password
// distinct, and the store ends in the state the operations describe.
func TestParallelCreateVerifyRevoke(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		ctx := t.Context()
		const workers = 16
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for i := range workers {
			wg.Go(func() {
				errs <- createVerifyMaybeRevoke(ctx, s, i, i%2 == 0)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		list, err := s.List(ctx, alice.JID)
		if err != nil {
			t.Fatal(err)
		}
		revoked := 0
		for _, ap := range list {
			if !ap.RevokedAt.IsZero() {
				revoked++
			}
		}
		if len(list) != workers || revoked != workers/2 {
			t.Errorf("%d passwords, %d revoked; want %d and %d", len(list), revoked, workers, workers/2)
		}
	})
}

func createVerifyMaybeRevoke(ctx context.Context, s *Store, i int, revoke bool) error {
	ap, secret, err := s.CreateAppPassword(ctx, NewAppPassword{Owner: alice, Label: fmt.Sprint("device ", i), RefreshToken: "rt"})
	if err != nil {
		return err
	}
	if v, err := s.Verify(ctx, alice.JID, secret.Reveal(), fmt.Sprint("192.0.2.", i)); err != nil || v.ID != ap.ID {
		return fmt.Errorf("worker %d: Verify = %s, %v", i, v.ID, err)
	}
	if !revoke {
		return nil
	}
	if err := s.Revoke(ctx, alice.JID, ap.ID); err != nil {
		return err
	}
	if _, err := s.Verify(ctx, alice.JID, secret.Reveal(), "x"); !errors.Is(err, ErrRevoked) {
		return fmt.Errorf("worker %d: Verify after revoke = %v", i, err)
	}
	return nil
}

// Logins from one address within the recording step write nothing; a new
// address, or the step passing, records the use.
func TestLastUseCoalesced(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		clk := newClock()
		s := b.open(t, withClock(clk))
		ctx := t.Context()
		_, secret := create(t, s, alice, "phone")
		lastUse := func() (time.Time, string) {
			t.Helper()
			list, err := s.List(ctx, alice.JID)
			if err != nil {
				t.Fatal(err)
			}
			return list[0].LastUsedAt, list[0].LastUsedAddr
		}
		mustVerify(t, s, secret, "192.0.2.1")
		first := clk.Now()
		clk.Advance(DefaultUseRecordingStep / 2)
		mustVerify(t, s, secret, "192.0.2.1")
		if at, addr := lastUse(); !at.Equal(first) || addr != "192.0.2.1" {
			t.Errorf("same address within the step: last use %v %s, want %v", at, addr, first)
		}
		mustVerify(t, s, secret, "198.51.100.7")
		if at, addr := lastUse(); !at.Equal(clk.Now()) || addr != "198.51.100.7" {
			t.Errorf("new address: last use %v %s, want now from 198.51.100.7", at, addr)
		}
		clk.Advance(DefaultUseRecordingStep)
		mustVerify(t, s, secret, "198.51.100.7")
		if at, _ := lastUse(); !at.Equal(clk.Now()) {
			t.Errorf("after the step: last use %v, want %v", at, clk.Now())
		}
	})
}

// Every method of a closed store returns ErrClosed, not a driver message.
func TestClosedStore(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		ctx := t.Context()
		ap, secret := create(t, s, alice, "phone")
		sub := s.Subscribe()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, ok := <-sub.Events(); ok {
			t.Error("subscription still open after Close")
		}
		_, err1 := s.Verify(ctx, alice.JID, secret.Reveal(), "a")
		_, _, err2 := s.CreateAppPassword(ctx, NewAppPassword{Owner: alice, Label: "x", RefreshToken: "rt"})
		_, err3 := s.List(ctx, alice.JID)
		err4 := s.Revoke(ctx, alice.JID, ap.ID)
		_, err5 := s.GrantsDueForRecheck(ctx, time.Now(), 10)
		err6 := s.DisableGrant(ctx, ap.GrantID, "x")
		_, err7 := s.Rotate(ctx)
		for i, err := range []error{err1, err2, err3, err4, err5, err6, err7} {
			if !errors.Is(err, ErrClosed) {
				t.Errorf("call %d on a closed store: %v, want ErrClosed", i+1, err)
			}
		}
	})
}
