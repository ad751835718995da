package oauthx

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

// unknownKidInterval rate-limits JWKS fetches caused by tokens with a key id we
// do not know: a flood of forged tokens costs the server one fetch per interval.
const unknownKidInterval = 10 * time.Second

// maxKeys bounds the keys taken from one key set.
const maxKeys = 64

// keySet caches the server's JSON Web Key Set. It is refreshed by the client's
// background loop and, rate-limited, when a token names an unknown key.
type keySet struct {
	c *Client

	mu         sync.RWMutex
	keys       *jose.JSONWebKeySet // nil until the first successful fetch
	from       string              // the URL keys came from
	lastForced time.Time           // the last refresh caused by an unknown kid

	flight singleflight.Group
}

// loaded reports whether keys from the current JWKS URL are in.
func (k *keySet) loaded(url string) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys != nil && k.from == url && url != ""
}

// refresh fetches the key set now (concurrent callers share one fetch).
func (k *keySet) refresh(ctx context.Context, url string) error {
	ch := k.flight.DoChan(url, func() (any, error) {
		set, err := k.c.fetchJWKS(ctx, url)
		if err != nil {
			return nil, err
		}
		k.mu.Lock()
		k.keys, k.from = set, url
		k.mu.Unlock()
		return nil, nil
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return transportError("jwks", ctx.Err())
	}
}

// candidates returns the keys that may have signed a token with this kid and
// alg. An unknown kid triggers one refresh, at most every unknownKidInterval.
func (k *keySet) candidates(ctx context.Context, url, kid, alg string) ([]jose.JSONWebKey, error) {
	if keys := k.match(url, kid, alg); len(keys) > 0 {
		return keys, nil
	}
	k.mu.Lock()
	have := k.keys != nil && k.from == url
	recent := time.Since(k.lastForced) < unknownKidInterval
	if !recent {
		k.lastForced = time.Now()
	}
	k.mu.Unlock()
	switch {
	case recent && !have:
		return nil, classed(ErrUnavailable, "signing keys not loaded yet", nil)
	case recent:
		return nil, nil
	}
	if err := k.refresh(ctx, url); err != nil {
		return nil, err
	}
	return k.match(url, kid, alg), nil
}

func (k *keySet) match(url, kid, alg string) []jose.JSONWebKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.keys == nil || k.from != url {
		return nil
	}
	var out []jose.JSONWebKey
	for _, key := range k.keys.Keys {
		if kid != "" && key.KeyID != kid {
			continue
		}
		if (key.Use != "" && key.Use != "sig") || (key.Algorithm != "" && key.Algorithm != alg) {
			continue
		}
		out = append(out, key)
	}
	return out
}

func (c *Client) fetchJWKS(ctx context.Context, url string) (set *jose.JSONWebKeySet, err error) {
	start := time.Now()
	defer func() { c.obs.Request("jwks", outcome(err), time.Since(start)) }()
	status, body, err := c.getJSON(ctx, "jwks", url)
	switch {
	case err != nil:
		return nil, err
	case status != http.StatusOK:
		return nil, statusError("jwks", status)
	}
	// Keys are parsed one by one so that one of an unknown type (or a private
	// key published by mistake) does not take the whole set down.
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, classed(ErrUnavailable, "jwks: answer is not a JSON Web Key Set", err)
	}
	set = new(jose.JSONWebKeySet)
	for i, r := range raw.Keys {
		if i == maxKeys {
			break
		}
		var key jose.JSONWebKey
		if json.Unmarshal(r, &key) != nil || !key.Valid() || !key.IsPublic() {
			continue
		}
		set.Keys = append(set.Keys, key)
	}
	if len(set.Keys) == 0 {
		return nil, classed(ErrUnavailable, "jwks: no usable public key", errors.New("empty key set"))
	}
	return set, nil
}
