package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/oauthx"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// expiryMargin: a token this close to its expiry is no longer asked about (an
// answer "expired" would look like a revocation).
const expiryMargin = 30 * time.Second

// sessionChecker re-checks relayed sessions of password and token logins
// with the IdP (proxy.SessionChecker).
type sessionChecker struct{ c *oauthx.Client }

func (s sessionChecker) CheckSession(ctx context.Context, id saslauth.Identity) (saslauth.Identity, bool, error) {
	if id.RefreshToken != "" {
		r, err := s.c.Refresh(ctx, id.RefreshToken)
		switch {
		case errors.Is(err, oauthx.ErrGrantRevoked):
			return id, true, fmt.Errorf("%w: %w", saslauth.ErrInvalidCredentials, err)
		case err != nil:
			return id, true, err
		}
		id.RefreshToken = r.RefreshToken
		return id, true, nil
	}
	if !id.Expires.IsZero() && time.Until(id.Expires) < expiryMargin {
		return id, false, nil // nothing left to ask about: the token has run out
	}
	_, err := s.c.RecheckToken(ctx, id.Token)
	switch {
	case errors.Is(err, oauthx.ErrNoRemoteCheck):
		return id, false, nil
	case errors.Is(err, oauthx.ErrInvalidToken):
		return id, true, fmt.Errorf("%w: %w", saslauth.ErrInvalidCredentials, err)
	}
	return id, true, err
}
