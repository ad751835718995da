package portal

import (
	"testing"
	"time"
)

// FuzzLoginCookie: whatever a browser sends as the sign-in cookie, opening
// it neither panics nor accepts anything but what this process sealed.
func FuzzLoginCookie(f *testing.F) {
	s := newSealer()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	good := s.seal(loginState{State: "s", Nonce: "n", Verifier: "v", Expires: now.Add(loginTTL)})
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add("")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, value string) {
		ls, err := s.open(value, now)
		if err == nil && value != good {
			t.Fatalf("opened a cookie this process did not seal: %+v", ls)
		}
	})
}

func TestLoginCookieExpires(t *testing.T) {
	s := newSealer()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	sealed := s.seal(loginState{State: "s", Nonce: "n", Verifier: "v", Expires: now.Add(loginTTL)})
	if ls, err := s.open(sealed, now.Add(loginTTL-time.Second)); err != nil || ls.State != "s" || ls.Verifier != "v" {
		t.Fatalf("open within its lifetime: %+v, %v", ls, err)
	}
	if _, err := s.open(sealed, now.Add(loginTTL)); err == nil {
		t.Fatal("an expired sign-in cookie opened")
	}
	if _, err := newSealer().open(sealed, now); err == nil {
		t.Fatal("another process's key opened the cookie")
	}
}
