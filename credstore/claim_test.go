package credstore

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// Two stores on one database (two replicas, or the proxy and the CLI)
// claiming due grants at the same time get disjoint sets that together
// cover every due grant, so no refresh token is spent twice.
func TestConcurrentRecheckClaimsAreDisjoint(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		clk := newClock()
		one, two := b.open(t, withClock(clk)), b.open(t, withClock(clk))
		ctx := t.Context()
		const grants = 12
		for i := range grants {
			create(t, one, alice, fmt.Sprint("device ", i))
		}
		clk.Advance(DefaultRecheck)
		var mu sync.Mutex
		claimed := map[string]int{}
		var wg sync.WaitGroup
		for _, s := range []*Store{one, two, one, two} {
			wg.Go(func() {
				due, err := s.GrantsDueForRecheck(ctx, clk.Now(), grants/2)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				defer mu.Unlock()
				for _, g := range due {
					claimed[g.ID]++
				}
			})
		}
		wg.Wait()
		for id, n := range claimed {
			if n != 1 {
				t.Errorf("grant %s claimed %d times", id, n)
			}
		}
		if len(claimed) != grants {
			t.Errorf("%d of %d due grants claimed", len(claimed), grants)
		}
	})
}

// A claimed grant is not handed out again until it is reported or its lease
// lapses; ClaimGrant says who holds it; a disabled grant cannot be claimed.
func TestRecheckClaimLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		clk := newClock()
		s := b.open(t, withClock(clk))
		ctx := t.Context()
		ap, _ := create(t, s, alice, "phone")
		clk.Advance(DefaultRecheck)

		g, err := s.ClaimGrant(ctx, ap.GrantID)
		if err != nil || g.ID != ap.GrantID || g.RefreshToken.Reveal() != "refresh-phone" {
			t.Fatalf("ClaimGrant = %+v, %v", g, err)
		}
		if _, err := s.ClaimGrant(ctx, ap.GrantID); !errors.Is(err, ErrRecheckInProgress) {
			t.Errorf("second ClaimGrant: %v, want ErrRecheckInProgress", err)
		}
		if due, err := s.GrantsDueForRecheck(ctx, clk.Now(), 10); err != nil || len(due) != 0 {
			t.Errorf("due while claimed: %+v, %v", due, err)
		}

		clk.Advance(DefaultRecheckLease) // the holder never reported
		due, err := s.GrantsDueForRecheck(ctx, clk.Now(), 10)
		if err != nil || len(due) != 1 {
			t.Fatalf("due after the lease lapsed: %+v, %v; want the grant", due, err)
		}
		if err := s.UpdateGrantRefreshToken(ctx, ap.GrantID, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ClaimGrant(ctx, ap.GrantID); err != nil {
			t.Errorf("ClaimGrant after the report released it: %v", err)
		}

		if err := s.DisableGrant(ctx, ap.GrantID, "invalid_grant"); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{ap.GrantID, "no-such-grant"} {
			if _, err := s.ClaimGrant(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Errorf("ClaimGrant(%s): %v, want ErrNotFound", id, err)
			}
		}
	})
}
