package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// probeCacheTTL spares the upstream a login-less stream per /readyz request.
const probeCacheTTL = 5 * time.Second

// readiness answers /readyz: the IdP metadata is loaded and every upstream answers.
type readiness struct {
	a         *App
	mu        sync.Mutex
	checked   time.Time
	upstreams error
}

func (r *readiness) check(ctx context.Context) error {
	if !r.a.oauth.Ready() {
		return errors.New("authorization server metadata not loaded")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) > probeCacheTTL {
		var errs []error
		for i, d := range r.a.dialers {
			if err := d.Probe(ctx); err != nil {
				errs = append(errs, fmt.Errorf("upstream of %s: %w", r.a.cfg.Domains[i].Name, err))
			}
		}
		r.upstreams, r.checked = errors.Join(errs...), time.Now()
	}
	return r.upstreams
}
