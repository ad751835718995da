package saslauth

import (
	"context"
	"testing"
)

func BenchmarkPlain(b *testing.B) {
	a := newFakePlain()
	cfg := plainConfig(a)
	msg := []byte("alice@example.com\x00ALICE@Example.com\x00secret")
	for b.Loop() {
		a.calls = a.calls[:0]
		s, _ := cfg.Start("PLAIN")
		if _, _, err := s.Next(context.Background(), msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOAuthBearer(b *testing.B) {
	a := newFakeBearer()
	cfg := bearerConfig(a)
	msg := []byte("n,a=alice@example.com,\x01host=xmpp.example.com\x01port=5222\x01auth=Bearer tok-alice\x01\x01")
	for b.Loop() {
		a.calls = a.calls[:0]
		s, _ := cfg.Start("OAUTHBEARER")
		if _, _, err := s.Next(context.Background(), msg); err != nil {
			b.Fatal(err)
		}
	}
}
