package credstore

import (
	"context"
	"fmt"
	"testing"
)

// benchPasswords is how many other passwords the store holds, so the
// lookup runs against an index of some size.
const benchPasswords = 1000

// BenchmarkVerify measures one login's store work: a successful Verify
// (last use already recorded, so a read only) and a refused one, each
// serially and from parallel goroutines.
func BenchmarkVerify(b *testing.B) {
	for _, mk := range []func(testing.TB) backend{sqliteBackend, postgresBackend} {
		be := mk(b)
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b)
			ctx := context.Background()
			var secret Secret
			for i := range benchPasswords {
				owner := Owner{JID: fmt.Sprintf("user%d@example.org", i), Subject: fmt.Sprint(i)}
				_, secret = create(b, s, owner, "device")
			}
			owner := fmt.Sprintf("user%d@example.org", benchPasswords-1)
			wrong := newAppPassword()
			if _, err := s.Verify(ctx, owner, secret.Reveal(), "192.0.2.1"); err != nil {
				b.Fatal(err)
			}
			b.Run("ok", func(b *testing.B) {
				for b.Loop() {
					if _, err := s.Verify(ctx, owner, secret.Reveal(), "192.0.2.1"); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("refused", func(b *testing.B) {
				for b.Loop() {
					if _, err := s.Verify(ctx, owner, wrong, "192.0.2.1"); err == nil {
						b.Fatal("wrong password accepted")
					}
				}
			})
			b.Run("ok-parallel", func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := s.Verify(ctx, owner, secret.Reveal(), "192.0.2.1"); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}
