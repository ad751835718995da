package portal

import (
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/credstore"
)

func TestSessionsExpireAndStayBounded(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	s := newSessions(2, 30*time.Minute, 8*time.Hour, func() time.Time { return now })
	owner := credstore.Owner{JID: "alice@example.org", Subject: "a"}

	a := s.create(owner, "rt")
	now = now.Add(29 * time.Minute)
	if _, ok := s.get(a.id); !ok {
		t.Fatal("a session seen 29 minutes ago is gone (idle limit is 30)")
	}
	now = now.Add(30 * time.Minute)
	if _, ok := s.get(a.id); ok {
		t.Fatal("a session idle for 30 minutes is still there")
	}

	b := s.create(owner, "rt")
	for range 25 { // seen every 20 minutes for 8 h 20 min: never idle, but past the lifetime
		now = now.Add(20 * time.Minute)
		s.get(b.id)
	}
	if _, ok := s.get(b.id); ok {
		t.Fatal("a session older than its 8 h lifetime is still there")
	}

	first := s.create(owner, "rt")
	now = now.Add(time.Minute)
	second := s.create(owner, "rt")
	now = now.Add(time.Minute)
	third := s.create(owner, "rt") // over the bound of 2: the least recently seen goes
	if _, ok := s.get(first.id); ok {
		t.Error("the oldest session survived a full table")
	}
	for _, x := range []*session{second, third} {
		if _, ok := s.get(x.id); !ok {
			t.Error("a newer session was evicted")
		}
	}
	if len(s.byID) > 2 {
		t.Errorf("%d sessions kept, bound is 2", len(s.byID))
	}
}
