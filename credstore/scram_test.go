package credstore

import (
	"bytes"
	"crypto/hmac"
	"errors"
	"fmt"
	"testing"

	"github.com/xdg-go/scram"
)

// App passwords get SCRAM-SHA-256 keys under one salt per user, derived from
// the password as shown; revoked ones drop out; an unknown user gets a stable
// made-up salt and no keys.
func TestSCRAMKeys(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		ctx := t.Context()
		ap1, pw1 := create(t, s, alice, "phone")
		ap2, pw2 := create(t, s, alice, "laptop")
		k, err := s.SCRAMKeys(ctx, alice.JID)
		if err != nil {
			t.Fatal(err)
		}
		if len(k.Salt) != 16 || k.Iterations != SCRAMIterations || len(k.Keys) != 2 {
			t.Fatalf("keys = %d bytes of salt, %d iterations, %d keys", len(k.Salt), k.Iterations, len(k.Keys))
		}
		byID := map[string]SCRAMKey{k.Keys[0].ID: k.Keys[0], k.Keys[1].ID: k.Keys[1]}
		for _, c := range []struct {
			id string
			pw Secret
		}{{ap1.ID, pw1}, {ap2.ID, pw2}} {
			client, err := scram.SHA256.NewClient("alice", c.pw.Reveal(), "")
			if err != nil {
				t.Fatal(err)
			}
			want := client.GetStoredCredentials(scram.KeyFactors{Salt: string(k.Salt), Iters: k.Iterations})
			got := byID[c.id]
			if !hmac.Equal(got.StoredKey, want.StoredKey) || !hmac.Equal(got.ServerKey, want.ServerKey) {
				t.Fatalf("keys of %s do not match its password", c.id)
			}
		}

		if err := s.Revoke(ctx, alice.JID, ap1.ID); err != nil {
			t.Fatal(err)
		}
		k2, err := s.SCRAMKeys(ctx, alice.JID)
		if err != nil {
			t.Fatal(err)
		}
		if len(k2.Keys) != 1 || k2.Keys[0].ID != ap2.ID || !bytes.Equal(k2.Salt, k.Salt) {
			t.Fatalf("after revoking %s: %+v", ap1.ID, k2.Keys)
		}

		u1, err := s.SCRAMKeys(ctx, "nobody@example.com")
		if err != nil {
			t.Fatal(err)
		}
		u2, _ := s.SCRAMKeys(ctx, "nobody@example.com")
		u3, _ := s.SCRAMKeys(ctx, "someone@example.com")
		if len(u1.Keys) != 0 || len(u1.Salt) != 16 || u1.Iterations != SCRAMIterations ||
			!bytes.Equal(u1.Salt, u2.Salt) || bytes.Equal(u1.Salt, u3.Salt) {
			t.Fatalf("unknown users' salts: %x %x %x", u1.Salt, u2.Salt, u3.Salt)
		}
	})
}

// VerifySCRAM applies Verify's checks to the credential the proof matched.
func TestVerifySCRAM(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		ctx := t.Context()
		ap, _ := create(t, s, alice, "phone")
		v, err := s.VerifySCRAM(ctx, alice.JID, ap.ID, "192.0.2.7", "Conversations Pixel")
		if err != nil {
			t.Fatal(err)
		}
		if v.ID != ap.ID || v.GrantID != ap.GrantID || v.LastUsedAddr != "192.0.2.7" || v.LastUsedAgent != "Conversations Pixel" {
			t.Fatalf("VerifySCRAM = %+v", v)
		}
		if _, err := s.VerifySCRAM(ctx, "bob@example.org", ap.ID, "192.0.2.7", ""); !errors.Is(err, ErrNotFound) {
			t.Fatalf("another owner: %v, want ErrNotFound", err)
		}
		if err := s.Revoke(ctx, alice.JID, ap.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.VerifySCRAM(ctx, alice.JID, ap.ID, "192.0.2.7", ""); !errors.Is(err, ErrRevoked) {
			t.Fatalf("revoked: %v, want ErrRevoked", err)
		}
	})
}

// A new user's first app passwords made in parallel (two devices set up at
// once) share one salt: the first insert wins, the others read it, and every
// password's keys are made under that salt.
func TestSCRAMSaltUnderParallelCreation(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		owner := Owner{JID: "parallel@example.org", Subject: "sub-parallel"}
		const n = 8
		secrets := make([]Secret, n)
		errs := make(chan error, n)
		for i := range n {
			go func() {
				_, sec, err := s.CreateAppPassword(t.Context(), NewAppPassword{
					Owner: owner, Label: fmt.Sprintf("device %d", i), RefreshToken: fmt.Sprintf("refresh-%d", i),
				})
				secrets[i] = sec
				errs <- err
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		k, err := s.SCRAMKeys(t.Context(), owner.JID)
		if err != nil || len(k.Keys) != n {
			t.Fatalf("%d keys (%v), want %d", len(k.Keys), err, n)
		}
		stored := map[string]bool{}
		for _, key := range k.Keys {
			stored[string(key.StoredKey)] = true
		}
		for i, sec := range secrets {
			c, err := scram.SHA256.NewClient("parallel", sec.Reveal(), "")
			if err != nil {
				t.Fatal(err)
			}
			if want := c.GetStoredCredentials(scram.KeyFactors{Salt: string(k.Salt), Iters: k.Iterations}); !stored[string(want.StoredKey)] {
				t.Fatalf("password %d's keys were not made under the user's one salt", i)
			}
		}
	})
}
