package oauthx

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"
)

type countingObserver struct {
	mu           sync.Mutex
	hits, misses int
	requests     map[string]int
}

func (o *countingObserver) Request(endpoint, outcome string, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.requests == nil {
		o.requests = map[string]int{}
	}
	o.requests[endpoint+"/"+outcome]++
}
func (o *countingObserver) CacheHit()  { o.mu.Lock(); o.hits++; o.mu.Unlock() }
func (o *countingObserver) CacheMiss() { o.mu.Lock(); o.misses++; o.mu.Unlock() }

func TestCacheHitsAndMisses(t *testing.T) {
	f := newFakeIdP(t)
	f.opaque = true
	obs := &countingObserver{}
	cfg := f.config(ValidationUserinfo)
	cfg.Observer = obs
	c, _ := start(t, cfg)
	ctx := context.Background()
	tok := f.issue("alice")
	for range 3 {
		if id, err := c.ValidateToken(ctx, tok); err != nil || id.Username != "alice" || id.AccessToken != tok {
			t.Fatalf("%+v, %v", id, err)
		}
	}
	if f.hit("/userinfo") != 1 {
		t.Errorf("userinfo asked %d times for one token, want 1", f.hit("/userinfo"))
	}
	// Rejections are remembered too (for NegativeCacheTTL).
	for range 3 {
		_, err := c.ValidateToken(ctx, "forged")
		wantClass(t, "forged", err, ErrInvalidToken)
	}
	if f.hit("/userinfo") != 2 {
		t.Errorf("userinfo asked %d times, want 2", f.hit("/userinfo"))
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.hits != 4 || obs.misses != 2 || obs.requests["userinfo/ok"] != 1 || obs.requests["userinfo/invalid"] != 1 {
		t.Errorf("observer: hits %d misses %d requests %v", obs.hits, obs.misses, obs.requests)
	}
}

func TestCacheRespectsExpiry(t *testing.T) {
	cache := newTokenCache(Config{CacheTTL: time.Hour, NegativeCacheTTL: time.Second, CacheSize: 10}, nopObserver{})
	now := time.Unix(1000, 0)
	cache.now = func() time.Time { return now }
	k := keyOf("tok")
	cache.put(k, Identity{Username: "alice", AccessToken: "tok", Expires: now.Add(time.Minute)}, nil)
	if id, err, ok := cache.get(k); !ok || err != nil || id.Username != "alice" || id.AccessToken != "" {
		t.Fatalf("get = %+v, %v, %v (the cache must not keep the token)", id, err, ok)
	}
	now = now.Add(2 * time.Minute) // past the token's own expiry, well within CacheTTL
	if _, _, ok := cache.get(k); ok {
		t.Error("an expired token's validation was served from the cache")
	}
	cache.put(keyOf("gone"), Identity{Username: "bob", Expires: now.Add(-time.Second)}, nil)
	if _, _, ok := cache.get(keyOf("gone")); ok {
		t.Error("an already expired token was cached")
	}
	cache.put(keyOf("down"), Identity{}, classed(ErrUnavailable, "x", nil))
	if _, _, ok := cache.get(keyOf("down")); ok {
		t.Error("an unavailable server's answer was cached")
	}
}

func TestCacheBounded(t *testing.T) {
	cache := newTokenCache(Config{CacheTTL: time.Hour, NegativeCacheTTL: time.Hour, CacheSize: 3}, nopObserver{})
	for i := range 10 {
		cache.put(keyOf(string(rune('a'+i))), Identity{Username: "u"}, nil)
		cache.put(keyOf(string(rune('A'+i))), Identity{}, classed(ErrInvalidToken, "x", nil))
	}
	if cache.pos.Len() != 3 || cache.neg.Len() != 3 {
		t.Errorf("sizes %d/%d, want 3/3", cache.pos.Len(), cache.neg.Len())
	}
	if _, _, ok := cache.get(keyOf("a")); ok {
		t.Error("the oldest entry survived")
	}
	if _, _, ok := cache.get(keyOf("j")); !ok {
		t.Error("the newest entry was dropped")
	}
}

// Concurrent validations of one token share one request.
func TestSingleflight(t *testing.T) {
	f := newFakeIdP(t)
	f.opaque = true
	c, _ := start(t, f.config(ValidationUserinfo))
	tok := f.issue("alice")
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	f.set("/userinfo", func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		f.userinfo(w, r)
	})
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			id, err := c.ValidateToken(context.Background(), tok)
			if err == nil && id.Username != "alice" {
				err = errors.New("wrong user " + id.Username)
			}
			errs <- err
		})
	}
	close(start)
	<-arrived
	// Let the others pile up behind the first request before it completes.
	time.Sleep(100 * time.Millisecond)
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := f.hit("/userinfo"); got != 1 {
		t.Errorf("%d userinfo requests for %d concurrent validations, want 1", got, n)
	}
}
