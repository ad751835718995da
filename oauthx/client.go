package oauthx

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"
)

// Identity is who a password or token belongs to.
type Identity struct {
	Username    string    // normalised localpart
	AccessToken string    // the token checked, or the one the password grant issued
	Expires     time.Time // zero if unknown (userinfo)
	Subject     string    // the server's sub, when it says
	// RefreshToken is what the password grant returned, if anything: it lets
	// a live session be re-checked later. Never log it.
	RefreshToken string
	// Realm is what username_mapping split dropped (lower case), for callers
	// that accept fewer realms per domain than UsernameRealms; "" otherwise.
	Realm string
}

// Client talks to one authorization server. It is safe for concurrent use.
type Client struct {
	cfg   Config
	log   zerolog.Logger
	obs   Observer
	http  *http.Client
	ep    atomic.Pointer[endpoints]
	keys  *keySet
	cache *tokenCache

	flight      singleflight.Group
	noClaimOnce sync.Once

	ready     atomic.Bool
	readyCh   chan struct{}
	readyOnce sync.Once
	lastErr   atomic.Pointer[error]

	startOnce sync.Once
	closeOnce sync.Once
	stop      context.CancelFunc
	done      chan struct{}
	mu        sync.Mutex // guards stop
	closed    bool
}

// New checks the configuration and builds a client. It never touches the
// network: Start loads the metadata and keys in the background.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	hc, err := newHTTPClient(cfg)
	if err != nil {
		return nil, err
	}
	obs := cfg.Observer
	if obs == nil {
		obs = nopObserver{}
	}
	c := &Client{cfg: cfg, log: cfg.Logger, obs: obs, http: hc, readyCh: make(chan struct{}), done: make(chan struct{})}
	c.keys = &keySet{c: c}
	c.cache = newTokenCache(cfg, obs)
	c.ep.Store(configuredEndpoints(cfg))
	c.checkReady()
	return c, nil
}

// Start runs discovery (with backoff while the server is unreachable) and the
// periodic refresh of metadata and keys in the background, until ctx is done
// or Close is called. Only the first call does anything.
func (c *Client) Start(ctx context.Context) {
	c.startOnce.Do(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.closed {
			close(c.done)
			return
		}
		if c.cfg.InsecureSkipVerify {
			c.log.Warn().Msg("insecure_skip_verify is on: the authorization server's certificate is NOT checked")
		}
		ctx, c.stop = context.WithCancel(ctx)
		go c.run(ctx)
	})
}

// Close stops the background work and waits for it; idle connections are closed.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		stop := c.stop
		c.mu.Unlock()
		if stop != nil {
			stop()
			<-c.done
		}
		c.http.CloseIdleConnections()
	})
}

// Ready reports whether the metadata (when discovery is configured) and, for
// jwt validation, the keys are loaded.
func (c *Client) Ready() bool { return c.ready.Load() }

// WaitReady blocks until Ready or ctx is done; then it returns the last
// failure (its class: ErrUnavailable, or ErrMisconfigured e.g. for an issuer
// mismatch).
func (c *Client) WaitReady(ctx context.Context) error {
	select {
	case <-c.readyCh:
		return nil
	case <-ctx.Done():
		return c.notReady()
	}
}

// DiscoveryURL is the metadata document to advertise to clients (XEP-0493):
// the configured one, the one that answered, or the OpenID Connect location
// under the issuer. Empty without issuer or discovery URL.
func (c *Client) DiscoveryURL() string {
	if u := c.ep.Load().discoveryURL; u != "" {
		return u
	}
	if c.cfg.Issuer != "" {
		return c.cfg.Issuer + "/.well-known/openid-configuration"
	}
	return ""
}

// CanPassword reports whether SASL PLAIN can be offered: the password grant is
// allowed and a token endpoint is configured or (until the metadata says
// otherwise) may be discovered.
func (c *Client) CanPassword() bool {
	if !c.cfg.ResourceOwnerPassword {
		return false
	}
	ep := c.ep.Load()
	return ep.token != "" || !ep.loaded
}

// CanValidate reports whether tokens can be validated (SASL OAUTHBEARER, and
// usernames from the token for PLAIN). Before the metadata is loaded it
// answers what discovery may provide.
func (c *Client) CanValidate() bool {
	ep := c.ep.Load()
	if !ep.loaded {
		return true
	}
	intro := ep.introspection != "" && c.cfg.ClientID != ""
	jwt := ep.jwks != "" && ep.issuer != ""
	switch c.cfg.Validation {
	case ValidationUserinfo:
		return ep.userinfo != ""
	case ValidationIntrospection:
		return intro
	case ValidationJWT:
		return jwt
	}
	return jwt || intro || ep.userinfo != ""
}

// notReady is the error for work that needs metadata not loaded yet: the last
// failure to load it, keeping its class.
func (c *Client) notReady() error {
	if p := c.lastErr.Load(); p != nil {
		return fmt.Errorf("authorization server not ready: %w", *p)
	}
	return classed(ErrUnavailable, "authorization server metadata not loaded yet", nil)
}

// needKeys: jwt validation cannot work without them; auto merely prefers them.
func (c *Client) needKeys() bool { return c.cfg.Validation == ValidationJWT }

func (c *Client) wantKeys() bool {
	return c.cfg.Validation == ValidationJWT || c.cfg.Validation == ValidationAuto
}

func (c *Client) checkReady() {
	ep := c.ep.Load()
	ok := ep.loaded && (!c.needKeys() || c.keys.loaded(ep.jwks))
	if ok {
		c.ready.Store(true)
		c.readyOnce.Do(func() { close(c.readyCh) })
	}
}

// Backoff while the server cannot be reached: from 500 ms doubling to 1 min,
// with jitter so that restarted proxies do not knock in step.
const (
	backoffMin = 500 * time.Millisecond
	backoffMax = time.Minute
)

func (c *Client) run(ctx context.Context) {
	defer close(c.done)
	backoff := backoffMin
	for {
		wait := c.cfg.RefreshInterval
		if err := c.refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			c.lastErr.Store(&err)
			ev := c.log.Warn()
			if errors.Is(err, ErrMisconfigured) {
				ev = c.log.Error()
			}
			ev.Err(err).Dur("retry_in", backoff).Bool("ready", c.Ready()).Msg("authorization server metadata or keys not loaded")
			wait = backoff/2 + rand.N(backoff/2+1)
			backoff = min(2*backoff, backoffMax)
		} else {
			backoff = backoffMin
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// refresh loads the metadata (when discovery is configured) and the keys (when
// a JWKS URL is known and wanted). Old values stay in use when it fails.
func (c *Client) refresh(ctx context.Context) error {
	// Each request is bounded by the client's Timeout; this bounds the whole.
	ctx, cancel := context.WithTimeout(ctx, 5*c.cfg.Timeout)
	defer cancel()
	if c.cfg.Issuer != "" || c.cfg.DiscoveryURL != "" {
		md, from, err := c.discover(ctx)
		if err != nil {
			return err
		}
		first := !c.ep.Load().loaded
		merged := merge(c.cfg, md, from)
		if bad := plainHTTPDiscovered(c.cfg, merged); len(bad) > 0 {
			if !c.cfg.AllowInsecureHTTP {
				return classed(ErrMisconfigured, fmt.Sprintf("metadata lists plain http endpoints off loopback %v: tokens would cross the network in clear text", bad), nil)
			}
			if first {
				c.log.Warn().Strs("urls", bad).Msg("allow_insecure_http: discovered endpoints use plain http; tokens cross the network in clear text")
			}
		}
		c.ep.Store(merged)
		if first {
			ep := c.ep.Load()
			c.log.Info().Str("discovery", from).Str("issuer", ep.issuer).Str("token", ep.token).
				Str("userinfo", ep.userinfo).Str("introspection", ep.introspection).Str("jwks", ep.jwks).
				Msg("authorization server metadata loaded")
		}
	}
	ep := c.ep.Load()
	if c.wantKeys() && ep.jwks != "" {
		if err := c.keys.refresh(ctx, ep.jwks); err != nil {
			c.checkReady()
			return err
		}
	}
	c.checkReady()
	return nil
}
