package credstore

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const device = "0b0d3a3e-6a0e-4f59-9a57-4c1f4a2d5e01"

var otherOwner = Owner{JID: "bob@example.org", Subject: "sub-bob"}

// issueFAST mints a token for alice's device on the grant of ap.
func issueFAST(t *testing.T, s *Store, grant string, expires time.Time) (FASTToken, Secret) {
	t.Helper()
	tok, secret, err := s.IssueFASTToken(t.Context(), NewFASTToken{Owner: alice.JID, GrantID: grant,
		UserAgentID: device, Label: "Conversations on Pixel", Mechanism: "HT-SHA-256-NONE", Expires: expires})
	if err != nil {
		t.Fatal(err)
	}
	return tok, secret
}

// is is a matcher accepting exactly secret, as an HT check does.
func is(secret Secret) func([]byte) bool {
	return func(tok []byte) bool { return string(tok) == secret.Reveal() }
}

// TestFASTTokenLifecycle: a token verifies for its device and mechanism only;
// a rotated one waits beside the old until first used, then the old stops
// working and the row (its id, what sessions are keyed by) stays; a counter
// that does not grow is a replay; past its expiry it is refused; revoked, it is
// refused; printing what Verify returns shows no token.
func TestFASTTokenLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		clk := newClock()
		s := b.open(t, withClock(clk))
		ctx := t.Context()
		ap, _ := create(t, s, alice, "laptop")
		first, old := issueFAST(t, s, ap.GrantID, clk.Now().Add(time.Hour))

		v, err := s.VerifyFAST(ctx, alice.JID, device, "HT-SHA-256-NONE", -1, "192.0.2.7", is(old))
		if err != nil || v.ID != first.ID || v.GrantID != ap.GrantID || v.Token.Reveal() != old.Reveal() {
			t.Fatalf("VerifyFAST = %+v, %v; want the token of %s", v, err, first.ID)
		}
		for name, call := range map[string]func() error{
			"other device": func() error {
				_, err := s.VerifyFAST(ctx, alice.JID, "other", "HT-SHA-256-NONE", -1, "", is(old))
				return err
			},
			"other mechanism": func() error {
				_, err := s.VerifyFAST(ctx, alice.JID, device, "HT-SHA-256-ENDP", -1, "", is(old))
				return err
			},
			"other owner": func() error {
				_, err := s.VerifyFAST(ctx, otherOwner.JID, device, "HT-SHA-256-NONE", -1, "", is(old))
				return err
			},
			"wrong token": func() error {
				_, err := s.VerifyFAST(ctx, alice.JID, device, "HT-SHA-256-NONE", -1, "", is(Secret{"x"}))
				return err
			},
		} {
			if err := call(); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", name, err)
			}
		}

		second, rotated := issueFAST(t, s, ap.GrantID, clk.Now().Add(2*time.Hour))
		if second.ID != first.ID {
			t.Fatalf("rotation made a new row %s, want %s kept", second.ID, first.ID)
		}
		if _, err := s.VerifyFAST(ctx, alice.JID, device, "HT-SHA-256-NONE", -1, "", is(old)); err != nil {
			t.Fatalf("old token before the rotated one is used: %v", err)
		}
		if v, err := s.VerifyFAST(ctx, alice.JID, device, "HT-SHA-256-NONE", 5, "", is(rotated)); err != nil || !v.ExpiresAt.Equal(clk.Now().Add(2*time.Hour).Truncate(time.Microsecond)) {
			t.Fatalf("rotated token: %+v, %v", v, err)
		}
		if _, err := s.VerifyFAST(ctx, alice.JID, device, "HT-SHA-256-NONE", -1, "", is(old)); !errors.Is(err, ErrNotFound) {
			t.Errorf("old token after the rotated one was used: %v, want ErrNotFound", err)
		}
		if _, err := s.VerifyFAST(ctx, alice.JID, device, "HT-SHA-256-NONE", 5, "", is(rotated)); !errors.Is(err, ErrReplayed) {
			t.Errorf("same counter again: %v, want ErrReplayed", err)
		}
		if _, err := s.VerifyFAST(ctx, alice.JID, device, "HT-SHA-256-NONE", 6, "", is(rotated)); err != nil {
			t.Errorf("growing counter: %v", err)
		}
		list, err := s.ListFAST(ctx, alice.JID)
		if err != nil || len(list) != 1 || list[0].UserAgentID != device || list[0].Label != "Conversations on Pixel" {
			t.Fatalf("ListFAST = %+v, %v", list, err)
		}
		if apps, _ := s.List(ctx, alice.JID); len(apps) != 1 {
			t.Errorf("List (app passwords) shows %d rows, want the app password only", len(apps))
		}

		clk.Advance(3 * time.Hour)
		if _, err := s.VerifyFAST(ctx, alice.JID, device, "HT-SHA-256-NONE", -1, "", is(rotated)); !errors.Is(err, ErrExpired) {
			t.Errorf("after expiry: %v, want ErrExpired", err)
		}
		if err := s.Revoke(ctx, alice.JID, first.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.VerifyFAST(ctx, alice.JID, device, "HT-SHA-256-NONE", -1, "", is(rotated)); !errors.Is(err, ErrRevoked) {
			t.Errorf("after Revoke: %v, want ErrRevoked", err)
		}
		if msg := fmt.Sprintf("%v %+v %#v", rotated, v, v); strings.Contains(msg, old.Reveal()) || strings.Contains(msg, rotated.Reveal()) {
			t.Errorf("a token is printed: %s", msg)
		}
	})
}

// TestFASTTokenNeedsGrant: a token hangs off a usable grant of its owner, and
// disabling that grant (the IdP refused it) refuses the token.
func TestFASTTokenNeedsGrant(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		ctx := t.Context()
		ap, _ := create(t, s, alice, "laptop")
		req := NewFASTToken{Owner: otherOwner.JID, GrantID: ap.GrantID, UserAgentID: device, Label: "x", Mechanism: "HT-SHA-256-NONE", Expires: time.Now().Add(time.Hour)}
		if _, _, err := s.IssueFASTToken(ctx, req); !errors.Is(err, ErrNotFound) {
			t.Errorf("token on another owner's grant: %v, want ErrNotFound", err)
		}
		_, secret := issueFAST(t, s, ap.GrantID, time.Now().Add(time.Hour))
		if err := s.DisableGrant(ctx, ap.GrantID, "refused by the IdP"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.VerifyFAST(ctx, alice.JID, device, "HT-SHA-256-NONE", -1, "", is(secret)); !errors.Is(err, ErrRevoked) {
			t.Errorf("token on a disabled grant: %v, want ErrRevoked", err)
		}
	})
}

// TestRevokingAppPasswordRevokesItsFASTTokens: a token minted by a login with
// an app password dies with it (a user who revokes a device's password expects
// the device out), also after a FAST login asked for a token of another
// mechanism; tokens of another app password on the same grant stay.
func TestRevokingAppPasswordRevokesItsFASTTokens(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		ctx := t.Context()
		ap, _ := create(t, s, alice, "phone")
		other, _, err := s.CreateAppPassword(ctx, NewAppPassword{Owner: alice, Label: "tablet", GrantID: ap.GrantID})
		if err != nil {
			t.Fatal(err)
		}
		issue := func(ua, mech, parent string) (FASTToken, Secret) {
			tok, sec, err := s.IssueFASTToken(ctx, NewFASTToken{Owner: alice.JID, GrantID: ap.GrantID, UserAgentID: ua,
				Label: ua, Mechanism: mech, Expires: time.Now().Add(time.Hour), ParentID: parent})
			if err != nil {
				t.Fatal(err)
			}
			return tok, sec
		}
		first, _ := issue("phone-ua", "HT-SHA-256-NONE", ap.ID)
		_, phone := issue("phone-ua", "HT-SHA-256-EXPR", first.ID) // asked during a FAST login
		_, tablet := issue("tablet-ua", "HT-SHA-256-NONE", other.ID)
		sub := s.Subscribe()
		defer sub.Close()
		if err := s.Revoke(ctx, alice.JID, ap.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.VerifyFAST(ctx, alice.JID, "phone-ua", "HT-SHA-256-EXPR", -1, "", is(phone)); !errors.Is(err, ErrRevoked) {
			t.Errorf("the phone's token after its app password was revoked: %v, want ErrRevoked", err)
		}
		if _, err := s.VerifyFAST(ctx, alice.JID, "tablet-ua", "HT-SHA-256-NONE", -1, "", is(tablet)); err != nil {
			t.Errorf("the tablet's token: %v", err)
		}
		ids := map[string]bool{}
		for range 2 {
			ids[nextEvent(t, sub).CredentialID] = true
		}
		if !ids[ap.ID] || len(ids) != 2 {
			t.Errorf("revocation events for %v, want the app password and the phone's token", ids)
		}
	})
}

// TestVerifyRecordsAgent: what a client calls itself is kept with the last
// use of an app password, control characters dropped and at most a label long.
func TestVerifyRecordsAgent(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		_, secret := create(t, s, alice, "phone")
		if _, err := s.VerifyFrom(t.Context(), alice.JID, secret.Reveal(), "192.0.2.1", "Conversations\x1b[31m "+strings.Repeat("x", 100)); err != nil {
			t.Fatal(err)
		}
		list, err := s.List(t.Context(), alice.JID)
		if err != nil {
			t.Fatal(err)
		}
		got := list[0].LastUsedAgent
		if !strings.HasPrefix(got, "Conversations[31m x") || len(got) != MaxLabelLength || strings.ContainsRune(got, 0x1b) {
			t.Fatalf("last used agent %q", got)
		}
	})
}

// TestFASTCounterRaces: logins racing with the same counter (a replayed
// 0-RTT message) let exactly one in.
func TestFASTCounterRaces(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		ap, _ := create(t, s, alice, "laptop")
		_, secret := issueFAST(t, s, ap.GrantID, time.Now().Add(time.Hour))
		const n = 8
		var wg sync.WaitGroup
		var ok, replayed atomic.Int32
		for range n {
			wg.Go(func() {
				_, err := s.VerifyFAST(t.Context(), alice.JID, device, "HT-SHA-256-NONE", 1, "", is(secret))
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrReplayed):
					replayed.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 1 || replayed.Load() != n-1 {
			t.Fatalf("%d logins in and %d refused as replays, want 1 and %d", ok.Load(), replayed.Load(), n-1)
		}
	})
}
