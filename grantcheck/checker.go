package grantcheck

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"
)

// Grant is what the checker needs of a stored grant.
type Grant struct {
	ID            string
	RefreshToken  string // never logged
	LastCheckedAt time.Time
}

// Store is the credential store as the checker sees it.
type Store interface {
	// DueGrants returns up to limit enabled grants last checked before olderThan.
	DueGrants(ctx context.Context, olderThan time.Time, limit int) ([]Grant, error)
	// Grant loads one enabled grant.
	Grant(ctx context.Context, id string) (Grant, error)
	// Claim loads one enabled grant and holds it for a check, so that no other
	// replica spends its refresh token meanwhile; held elsewhere: ErrBusy.
	// Checked or Disable releases it.
	Claim(ctx context.Context, id string) (Grant, error)
	// Checked records a successful check and a rotated refresh token (or "").
	Checked(ctx context.Context, id, rotatedRefreshToken string) error
	// Disable ends the grant and every credential on it, for good.
	Disable(ctx context.Context, id, reason string) error
}

// Refresher asks the IdP whether a grant lives. It returns the refresh token
// to keep, an error wrapping ErrRevoked when the IdP refused it for good, or
// any other error when it could not tell.
type Refresher interface {
	Refresh(ctx context.Context, refreshToken string) (rotated string, err error)
}

var (
	// ErrRevoked: the IdP refused the grant for good.
	ErrRevoked = errors.New("grantcheck: grant revoked by the identity provider")
	// ErrUnavailable: the grant is overdue and the IdP could not be asked
	// within the grace period.
	ErrUnavailable = errors.New("grantcheck: identity provider unavailable and the grant is overdue")
	// ErrBusy: Store.Claim found the grant held by another check.
	ErrBusy = errors.New("grantcheck: grant check in progress elsewhere")
)

// Outcomes reported to Config.Observe.
const (
	OutcomeAlive       = "alive"
	OutcomeRevoked     = "revoked"
	OutcomeUnavailable = "unavailable"
)

// Config tunes a Checker. Zero durations mean the defaults.
type Config struct {
	Store     Store
	Refresher Refresher
	// Interval is the most a grant goes unchecked while it has credentials.
	// Default 15 minutes.
	Interval time.Duration
	// Grace is how long past Interval logins go on while the IdP cannot be
	// reached. Default 1 hour.
	Grace time.Duration
	// Timeout bounds one refresh. Default 10 seconds.
	Timeout time.Duration
	// Observe, when set, counts each check by outcome.
	Observe func(outcome string)
	Logger  zerolog.Logger
	Now     func() time.Time // nil: time.Now (tests)
}

// Checker refreshes grants. It is safe for concurrent use.
type Checker struct {
	cfg    Config
	flight singleflight.Group
}

// sweepBatch bounds one pass over due grants; a bigger backlog is taken over
// several passes, one IdP request at a time.
const sweepBatch = 100

// New returns a Checker; Run starts its background sweeps.
func New(cfg Config) *Checker {
	if cfg.Interval <= 0 {
		cfg.Interval = 15 * time.Minute
	}
	if cfg.Grace <= 0 {
		cfg.Grace = time.Hour
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Observe == nil {
		cfg.Observe = func(string) {}
	}
	cfg.Logger = cfg.Logger.With().Str("component", "grantcheck").Logger()
	return &Checker{cfg: cfg}
}

// Run sweeps due grants until ctx ends, a few times per Interval so that no
// grant waits much past it.
func (c *Checker) Run(ctx context.Context) {
	t := time.NewTicker(max(c.cfg.Interval/4, time.Second))
	defer t.Stop()
	for {
		c.Sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sweep checks every grant that is due now, and reports how many it checked.
func (c *Checker) Sweep(ctx context.Context) int {
	checked := 0
	for ctx.Err() == nil {
		due, err := c.cfg.Store.DueGrants(ctx, c.cfg.Now().Add(-c.cfg.Interval), sweepBatch)
		if err != nil {
			c.cfg.Logger.Warn().Err(err).Msg("cannot list grants due for a check")
			return checked
		}
		progress := false
		for _, g := range due {
			err := c.check(ctx, g.ID, false) // DueGrants claimed them
			checked++
			if !errors.Is(err, ErrUnavailable) && !errors.Is(err, errIdPDown) {
				progress = true
			}
		}
		if len(due) < sweepBatch || !progress {
			return checked // done, or the IdP is down: the next tick retries
		}
	}
	return checked
}

// errIdPDown: the IdP could not tell, but the grant is still within grace.
var errIdPDown = errors.New("identity provider could not be asked; within grace")

// CheckLogin is called by a login whose grant is overdue. nil: let it in (the
// grant lives, or the IdP is down but the grant is within grace). ErrRevoked:
// refuse it. ErrUnavailable: temporary failure. Concurrent logins of one grant
// share one refresh.
func (c *Checker) CheckLogin(ctx context.Context, grantID string) error {
	err := c.check(ctx, grantID, true)
	if errors.Is(err, errIdPDown) || errors.Is(err, ErrBusy) {
		return nil // a check underway elsewhere ends the session if the grant is gone
	}
	return err
}

func (c *Checker) check(ctx context.Context, grantID string, claim bool) error {
	ch := c.flight.DoChan(grantID, func() (any, error) {
		// Outlives a caller that gives up: the answer is useful to the next one.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.Timeout)
		defer cancel()
		return nil, c.checkOnce(cctx, grantID, claim)
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
}

func (c *Checker) checkOnce(ctx context.Context, grantID string, claim bool) error {
	load := c.cfg.Store.Grant
	if claim {
		load = c.cfg.Store.Claim
	}
	g, err := load(ctx, grantID)
	if errors.Is(err, ErrBusy) {
		return err
	}
	if err != nil {
		return fmt.Errorf("%w: loading the grant: %w", ErrUnavailable, err)
	}
	if claim && c.cfg.Now().Sub(g.LastCheckedAt) < c.cfg.Interval {
		return nil // a check that just finished (a concurrent login's, another replica's) answered
	}
	log := c.cfg.Logger.With().Str("grant", g.ID).Logger()
	rotated, err := c.cfg.Refresher.Refresh(ctx, g.RefreshToken)
	switch {
	case err == nil:
		c.cfg.Observe(OutcomeAlive)
		if rotated == g.RefreshToken {
			rotated = ""
		}
		if err := c.cfg.Store.Checked(ctx, g.ID, rotated); err != nil {
			log.Warn().Err(err).Msg("grant is alive but recording the check failed")
		}
		return nil
	case errors.Is(err, ErrRevoked):
		// Another replica may have rotated the token in the meantime: then ours
		// is stale, not the grant revoked.
		if now, lerr := c.cfg.Store.Grant(ctx, g.ID); lerr == nil && now.RefreshToken != g.RefreshToken {
			log.Info().Msg("refresh token was rotated meanwhile by another replica; grant is alive")
			return nil
		}
		c.cfg.Observe(OutcomeRevoked)
		reason := "the identity provider refused the grant"
		if derr := c.cfg.Store.Disable(ctx, g.ID, reason); derr != nil {
			log.Error().Err(derr).Msg("grant revoked at the IdP but disabling it failed")
		} else {
			log.Info().Err(err).Msg("grant revoked at the identity provider: its credentials and sessions end")
		}
		return fmt.Errorf("%w: %w", ErrRevoked, err)
	default:
		c.cfg.Observe(OutcomeUnavailable)
		overdue := c.cfg.Now().Sub(g.LastCheckedAt) - c.cfg.Interval
		if overdue > c.cfg.Grace {
			log.Warn().Err(err).Dur("overdue", overdue).Msg("grant overdue past the grace period and the IdP cannot be asked")
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		log.Warn().Err(err).Msg("cannot refresh grant; within grace")
		return fmt.Errorf("%w: %w", errIdPDown, err)
	}
}
