package credstore

import (
	"errors"
	"fmt"
	"testing"
)

// Two stores on one database, as two proxy replicas on PostgreSQL or the
// proxy and the operator's CLI on one SQLite file: each sees the other's
// new and revoked passwords, and a revocation on one reaches the other's
// subscribers.
func TestTwoStoresShareOneDatabase(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		one, two := b.open(t), b.open(t)
		ctx := t.Context()
		subTwo := two.Subscribe()
		defer subTwo.Close()

		ap, secret := create(t, one, alice, "phone")
		if v, err := two.Verify(ctx, alice.JID, secret.Reveal(), "a"); err != nil || v.ID != ap.ID {
			t.Fatalf("store two: Verify = %+v, %v", v, err)
		}
		if list, err := two.List(ctx, alice.JID); err != nil || len(list) != 1 {
			t.Errorf("store two: List = %+v, %v", list, err)
		}

		if err := one.Revoke(ctx, alice.JID, ap.ID); err != nil {
			t.Fatal(err)
		}
		want := Event{Kind: EventCredentialRevoked, Owner: alice.JID, GrantID: ap.GrantID, CredentialID: ap.ID, Reason: ReasonRevokedByUser}
		if ev := nextEvent(t, subTwo); ev != want {
			t.Errorf("store two heard %+v, want %+v", ev, want)
		}
		if _, err := two.Verify(ctx, alice.JID, secret.Reveal(), "a"); !errors.Is(err, ErrRevoked) {
			t.Errorf("store two after the revocation: %v, want ErrRevoked", err)
		}
	})
}

// A store hears its own revocations once and another store's too, in order:
// its own two, then the other's, which it can only hear after reading past
// any echo of its own.
func TestEventsArriveOnceInOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		one, two := b.open(t), b.open(t)
		ctx := t.Context()
		sub := one.Subscribe()
		defer sub.Close()
		var ids []string
		for i, s := range []*Store{one, one, two} {
			ap, _ := create(t, s, alice, fmt.Sprint("device ", i))
			if err := s.Revoke(ctx, alice.JID, ap.ID); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, ap.ID)
		}
		for i, id := range ids {
			if ev := nextEvent(t, sub); ev.CredentialID != id {
				t.Errorf("event %d: %+v, want the revocation of %s", i, ev, id)
			}
		}
	})
}

// Every subscriber of the revoking store hears it (on PostgreSQL through
// the store's own LISTEN, like any other replica's).
func TestRevocationReachesEverySubscriber(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		subs := []*Subscription{s.Subscribe(), s.Subscribe()}
		ap, _ := create(t, s, alice, "phone")
		if err := s.Revoke(t.Context(), alice.JID, ap.ID); err != nil {
			t.Fatal(err)
		}
		for i, sub := range subs {
			if ev := nextEvent(t, sub); ev.Kind != EventCredentialRevoked || ev.CredentialID != ap.ID {
				t.Errorf("subscriber %d: %+v", i, ev)
			}
			sub.Close()
		}
	})
}

// When the listening connection drops, the store reconnects and tells its
// subscribers to resync (events may have been lost meanwhile), and
// revocations reach them again afterwards.
func TestListenerReconnectAnnouncesResync(t *testing.T) {
	b := postgresBackend(t)
	s := b.open(t)
	ctx := t.Context()
	sub := s.Subscribe()
	defer sub.Close()
	var killed int
	err := s.write.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query ILIKE 'listen %'`).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminated %d listening connections (%v), want 1", killed, err)
	}
	if ev := nextEvent(t, sub); ev.Kind != EventResync {
		t.Fatalf("first event after the drop: %+v, want a resync", ev)
	}
	ap, _ := create(t, s, alice, "phone")
	if err := s.Revoke(ctx, alice.JID, ap.ID); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, sub); ev.Kind != EventCredentialRevoked || ev.CredentialID != ap.ID {
		t.Errorf("after the reconnect: %+v, want the revocation of %s", ev, ap.ID)
	}
}
