package grantcheck

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memStore is an in-memory Store.
type memStore struct {
	mu       sync.Mutex
	grants   map[string]*Grant
	disabled map[string]string
	busy     map[string]bool // claimed by another check
	now      func() time.Time
}

func newMemStore(now func() time.Time, gs ...Grant) *memStore {
	s := &memStore{grants: map[string]*Grant{}, disabled: map[string]string{}, busy: map[string]bool{}, now: now}
	for _, g := range gs {
		s.grants[g.ID] = &g
	}
	return s
}

func (s *memStore) DueGrants(_ context.Context, olderThan time.Time, limit int) ([]Grant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Grant
	for _, g := range s.grants {
		if _, off := s.disabled[g.ID]; !off && g.LastCheckedAt.Before(olderThan) && len(out) < limit {
			out = append(out, *g)
		}
	}
	return out, nil
}

func (s *memStore) Grant(_ context.Context, id string) (Grant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grants[id]
	if !ok {
		return Grant{}, errors.New("no such grant")
	}
	return *g, nil
}

func (s *memStore) Claim(ctx context.Context, id string) (Grant, error) {
	s.mu.Lock()
	busy := s.busy[id]
	s.mu.Unlock()
	if busy {
		return Grant{}, ErrBusy
	}
	return s.Grant(ctx, id)
}

func (s *memStore) Checked(_ context.Context, id, rotated string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.grants[id]
	g.LastCheckedAt = s.now()
	if rotated != "" {
		g.RefreshToken = rotated
	}
	return nil
}

func (s *memStore) Disable(_ context.Context, id, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.disabled[id] = reason
	return nil
}

// idp answers refreshes from a table of refresh token -> outcome.
type idp struct {
	mu      sync.Mutex
	answers map[string]error // nil: alive, rotated to token+"'"
	calls   atomic.Int32
	gate    chan struct{} // when set, each refresh waits for it
}

func (i *idp) Refresh(_ context.Context, rt string) (string, error) {
	i.calls.Add(1)
	if i.gate != nil {
		<-i.gate
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if err, ok := i.answers[rt]; ok && err != nil {
		return "", err
	}
	return rt + "'", nil
}

var errDown = errors.New("connection refused")

func TestCheckOutcomes(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	old := now.Add(-20 * time.Minute) // due with a 15 min interval
	store := newMemStore(clock,
		Grant{ID: "alive", RefreshToken: "rt-a", LastCheckedAt: old},
		Grant{ID: "gone", RefreshToken: "rt-g", LastCheckedAt: old},
		Grant{ID: "down-recent", RefreshToken: "rt-d", LastCheckedAt: old},
		Grant{ID: "down-old", RefreshToken: "rt-o", LastCheckedAt: now.Add(-3 * time.Hour)},
	)
	var outcomes sync.Map
	p := &idp{answers: map[string]error{"rt-g": ErrRevoked, "rt-d": errDown, "rt-o": errDown}}
	c := New(Config{Store: store, Refresher: p, Now: clock, Observe: func(o string) {
		n, _ := outcomes.LoadOrStore(o, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
	}})

	if err := c.CheckLogin(t.Context(), "alive"); err != nil {
		t.Fatalf("alive: %v", err)
	}
	if g, _ := store.Grant(t.Context(), "alive"); g.RefreshToken != "rt-a'" || !g.LastCheckedAt.Equal(now) {
		t.Fatalf("alive grant not recorded: %+v", g)
	}
	if err := c.CheckLogin(t.Context(), "gone"); !errors.Is(err, ErrRevoked) {
		t.Fatalf("gone: %v, want ErrRevoked", err)
	}
	if store.disabled["gone"] == "" {
		t.Fatal("a revoked grant was not disabled")
	}
	if err := c.CheckLogin(t.Context(), "down-recent"); err != nil {
		t.Fatalf("IdP down within grace: %v, want the login let in", err)
	}
	if err := c.CheckLogin(t.Context(), "down-old"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("IdP down past grace: %v, want ErrUnavailable", err)
	}
	if _, off := store.disabled["down-old"]; off {
		t.Fatal("an unreachable IdP disabled a grant")
	}
	for o, want := range map[string]int32{OutcomeAlive: 1, OutcomeRevoked: 1, OutcomeUnavailable: 2} {
		n, _ := outcomes.Load(o)
		if n == nil || n.(*atomic.Int32).Load() != want {
			t.Errorf("outcome %s counted %v, want %d", o, n, want)
		}
	}
}

// TestRotatedElsewhereIsNotRevoked: another replica refreshed (and rotated)
// the token while this one used the old one: the IdP's refusal of the stale
// token must not disable the grant.
func TestRotatedElsewhereIsNotRevoked(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	store := newMemStore(clock, Grant{ID: "g", RefreshToken: "rt-1", LastCheckedAt: now.Add(-time.Hour)})
	p := &idp{answers: map[string]error{"rt-1": ErrRevoked}}
	rotating := &rotateFirst{store: store, inner: p}
	c := New(Config{Store: store, Refresher: rotating, Now: clock})
	if err := c.CheckLogin(t.Context(), "g"); err != nil {
		t.Fatalf("err = %v, want the grant alive", err)
	}
	if _, off := store.disabled["g"]; off {
		t.Fatal("grant disabled over a token another replica rotated")
	}
}

// rotateFirst stores a rotated token (as another replica would) before
// answering with inner.
type rotateFirst struct {
	store *memStore
	inner Refresher
}

func (r *rotateFirst) Refresh(ctx context.Context, rt string) (string, error) {
	_ = r.store.Checked(ctx, "g", "rt-2")
	return r.inner.Refresh(ctx, rt)
}

func TestConcurrentLoginsShareOneRefresh(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	store := newMemStore(clock, Grant{ID: "g", RefreshToken: "rt", LastCheckedAt: now.Add(-time.Hour)})
	p := &idp{answers: map[string]error{}, gate: make(chan struct{})}
	c := New(Config{Store: store, Refresher: p, Now: clock})
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() { errs <- c.CheckLogin(t.Context(), "g") })
	}
	for p.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(p.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := p.calls.Load(); got != 1 {
		t.Fatalf("%d refreshes for %d concurrent logins, want 1", got, n)
	}
}

func TestSweepChecksOnlyDueGrants(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	store := newMemStore(clock,
		Grant{ID: "due", RefreshToken: "rt-1", LastCheckedAt: now.Add(-16 * time.Minute)},
		Grant{ID: "fresh", RefreshToken: "rt-2", LastCheckedAt: now.Add(-time.Minute)},
		Grant{ID: "gone", RefreshToken: "rt-3", LastCheckedAt: now.Add(-time.Hour)},
	)
	p := &idp{answers: map[string]error{"rt-3": ErrRevoked}}
	c := New(Config{Store: store, Refresher: p, Now: clock})
	if n := c.Sweep(t.Context()); n != 2 {
		t.Fatalf("swept %d grants, want 2", n)
	}
	if g, _ := store.Grant(t.Context(), "fresh"); g.RefreshToken != "rt-2" {
		t.Fatal("a fresh grant was refreshed")
	}
	if store.disabled["gone"] == "" {
		t.Fatal("sweep did not disable the revoked grant")
	}
	if n := c.Sweep(t.Context()); n != 0 {
		t.Fatalf("second sweep checked %d grants, want 0", n)
	}
}

// TestLoginDuringCheckElsewhere: a login whose grant another replica is
// checking is let in without spending the refresh token a second time.
func TestLoginDuringCheckElsewhere(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	store := newMemStore(clock, Grant{ID: "g", RefreshToken: "rt", LastCheckedAt: now.Add(-time.Hour)})
	store.busy["g"] = true
	p := &idp{answers: map[string]error{}}
	c := New(Config{Store: store, Refresher: p, Now: clock})
	if err := c.CheckLogin(t.Context(), "g"); err != nil {
		t.Fatalf("err = %v, want the login let in", err)
	}
	if n := p.calls.Load(); n != 0 {
		t.Fatalf("%d refreshes of a grant claimed elsewhere, want 0", n)
	}
}
