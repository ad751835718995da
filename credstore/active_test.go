package credstore

import (
	"slices"
	"testing"
)

// TestInactive names revoked credentials, credentials on a disabled grant and
// unknown ids, and only those, also past one query's batch.
func TestInactive(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		ctx := t.Context()
		owner := Owner{JID: "dora@example.org", Subject: "sub-dora"}
		live, _ := create(t, s, owner, "live")
		revoked, _ := create(t, s, owner, "revoked")
		onDisabled, _ := create(t, s, Owner{JID: "ed@example.org", Subject: "sub-ed"}, "ed")
		if err := s.Revoke(ctx, owner.JID, revoked.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.DisableGrant(ctx, onDisabled.GrantID, "test"); err != nil {
			t.Fatal(err)
		}
		ids := []string{live.ID, revoked.ID, onDisabled.ID, "no-such-id"}
		for i := range maxIDsPerQuery {
			ids = append(ids, "filler-"+string(rune('a'+i%26))+string(rune('a'+i/26%26)))
		}
		got, err := s.Inactive(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(got, live.ID) || !slices.Contains(got, revoked.ID) || !slices.Contains(got, onDisabled.ID) ||
			!slices.Contains(got, "no-such-id") || len(got) != len(ids)-1 {
			t.Fatalf("inactive = %d ids (live among them: %v), want all but the live one", len(got), slices.Contains(got, live.ID))
		}
	})
}
