package proxy

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// SessionChecker asks the authority that let a user in whether the user may
// stay: for a password-grant login by refreshing its grant, for a token login
// by asking about the token. It returns the identity to keep (a rotated
// refresh token), an error wrapping saslauth.ErrInvalidCredentials when the
// user must go, or another error when it cannot tell (the session stays).
// It returns ok=false when it has nothing left to check for this identity.
type SessionChecker interface {
	CheckSession(ctx context.Context, id saslauth.Identity) (next saslauth.Identity, ok bool, err error)
}

// recheckKey indexes, in liveSessions, the sessions a SessionChecker watches.
const recheckKey = "recheck"

// sessionAuth is what a watched session keeps to be re-checked: the least
// that works (a refresh token, or a token still to ask about), never logged.
type sessionAuth struct {
	id          saslauth.Identity
	lastChecked time.Time
}

// needsRecheck: app-password sessions are watched through their grant
// (grantcheck), and an identity with neither refresh token nor token has
// nothing to ask about.
func needsRecheck(id saslauth.Identity) bool {
	return id.CredentialID == "" && (id.RefreshToken != "" || id.Token != "")
}

// watchedIdentity keeps only what a re-check needs: with a refresh token the
// access token is not needed, and an idle session should hold few bytes.
func watchedIdentity(id saslauth.Identity) saslauth.Identity {
	w := saslauth.Identity{Username: id.Username, RefreshToken: id.RefreshToken, Expires: id.Expires}
	if w.RefreshToken == "" {
		w.Token = id.Token
	}
	return w
}

// recheckConcurrency bounds IdP requests a recheck pass makes at once.
const recheckConcurrency = 4

// recheckLoop re-checks watched sessions so that a user the IdP no longer
// vouches for is out within about one interval, until ctx ends.
func (s *Server) recheckLoop(ctx context.Context) {
	every := s.cfg.SessionRecheck
	t := time.NewTicker(max(every/8, 250*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.recheckDue(ctx, time.Now().Add(-every))
	}
}

// recheckDue checks the watched sessions last checked before cutoff.
func (s *Server) recheckDue(ctx context.Context, cutoff time.Time) {
	sem := make(chan struct{}, recheckConcurrency)
	var wg sync.WaitGroup
	for _, r := range s.live.matching([]string{recheckKey}) {
		if r.auth == nil || r.auth.lastChecked.After(cutoff) || r.ending() {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			s.recheckOne(ctx, r)
		})
	}
	wg.Wait()
}

// TextIdPRefused is what a client shows when its session ends because the
// IdP no longer vouches for the user (here, or a grant the store disabled).
const TextIdPRefused = "Your sign-in was ended at the identity provider"

func (s *Server) recheckOne(ctx context.Context, r *relay) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.SessionRecheckTimeout)
	defer cancel()
	next, ok, err := s.cfg.SessionChecker.CheckSession(cctx, r.auth.id)
	switch {
	case errors.Is(err, saslauth.ErrInvalidCredentials):
		s.log.Info().Str("user", r.user).Err(err).Msg("session re-check: the IdP no longer vouches for the user; ending the session")
		if r.revoke(TextIdPRefused) {
			s.cfg.Observer.Revoked(1)
		}
	case err != nil:
		s.log.Warn().Str("user", r.user).Err(err).Msg("session re-check failed; the session goes on")
		r.auth.lastChecked = time.Now() // retried next interval, not every tick
	case !ok:
		s.live.remove(r, []string{recheckKey})
		r.auth = nil
	default:
		r.auth.id, r.auth.lastChecked = next, time.Now()
	}
}
