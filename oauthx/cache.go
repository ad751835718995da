package oauthx

import (
	"crypto/sha256"
	"errors"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// tokenKey is the cache and singleflight key: the token's SHA-256, so the cache
// holds no usable token as a key.
type tokenKey [sha256.Size]byte

func keyOf(token string) tokenKey { return sha256.Sum256([]byte(token)) }

type entry struct {
	id    Identity // AccessToken left empty
	err   error    // an ErrInvalidToken verdict
	until time.Time
}

// tokenCache remembers validations: successes until the earlier of the token's
// expiry and CacheTTL, rejections (ErrInvalidToken only) for NegativeCacheTTL.
// Both are LRUs bounded by CacheSize, so rejections cannot push out successes.
// Expiry is checked on read: golang-lru's expirable variant would start a
// goroutine per cache that never ends. A nil LRU remembers nothing.
type tokenCache struct {
	ttl, negTTL time.Duration
	pos, neg    *lru.Cache[tokenKey, entry]
	now         func() time.Time
	obs         Observer
}

func newTokenCache(cfg Config, obs Observer) *tokenCache {
	c := &tokenCache{ttl: cfg.CacheTTL, negTTL: cfg.NegativeCacheTTL, now: time.Now, obs: obs}
	if cfg.CacheSize <= 0 || cfg.CacheTTL <= 0 {
		return c
	}
	c.pos, _ = lru.New[tokenKey, entry](cfg.CacheSize)
	if cfg.NegativeCacheTTL > 0 {
		c.neg, _ = lru.New[tokenKey, entry](cfg.CacheSize)
	}
	return c
}

// get returns a remembered outcome; ok is false when nothing is known.
func (c *tokenCache) get(k tokenKey) (Identity, error, bool) {
	if c.pos == nil {
		return Identity{}, nil, false
	}
	for _, l := range []*lru.Cache[tokenKey, entry]{c.pos, c.neg} {
		if l == nil {
			continue
		}
		if e, ok := l.Get(k); ok {
			if c.now().Before(e.until) {
				c.obs.CacheHit()
				return e.id, e.err, true
			}
			l.Remove(k)
		}
	}
	c.obs.CacheMiss()
	return Identity{}, nil, false
}

// put remembers an outcome. Only verdicts on the token are kept: an
// unavailable server or our misconfiguration says nothing about it.
func (c *tokenCache) put(k tokenKey, id Identity, err error) {
	if c.pos == nil {
		return
	}
	now := c.now()
	switch {
	case err == nil:
		until := now.Add(c.ttl)
		if !id.Expires.IsZero() && id.Expires.Before(until) {
			until = id.Expires
		}
		if until.After(now) {
			id.AccessToken = ""
			c.pos.Add(k, entry{id: id, until: until})
		}
	case errors.Is(err, ErrInvalidToken) && c.neg != nil:
		c.neg.Add(k, entry{err: err, until: now.Add(c.negTTL)})
	}
}
