package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/credstore"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/grantcheck"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/metrics"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// appPasswordAuthenticator checks a PLAIN password against the user's app
// passwords first (one keyed hash and one indexed query, no IdP request), and
// only then, if the password grant is on, against the IdP. The first step
// costs the same whether or not the user has app passwords, so a wrong
// password's timing tells nothing about them.
type appPasswordAuthenticator struct {
	store   *credstore.Store
	checker *grantcheck.Checker
	next    saslauth.Authenticator
	grant   bool   // oauth.resource_owner_password: fall back to the password grant
	domain  string // app passwords belong to username@domain
	metrics *metrics.Metrics
}

var errNoPasswordGrant = errors.New("not an app password, and the password grant is off")

func (a appPasswordAuthenticator) CheckPassword(ctx context.Context, username, password string) (saslauth.Identity, error) {
	v, err := a.store.VerifyFrom(ctx, username+"@"+a.domain, password, saslauth.ClientAddr(ctx), saslauth.ClientAgent(ctx))
	switch {
	case err == nil:
		return a.checkGrant(ctx, username, v)
	case errors.Is(err, credstore.ErrRevoked):
		a.metrics.AppPasswordLogin("revoked")
		return saslauth.Identity{}, fmt.Errorf("%w: %w", saslauth.ErrInvalidCredentials, err)
	case errors.Is(err, credstore.ErrNotFound):
		if !a.grant {
			return saslauth.Identity{}, fmt.Errorf("%w: %w", saslauth.ErrInvalidCredentials, errNoPasswordGrant)
		}
		return a.next.CheckPassword(ctx, username, password)
	}
	// The store cannot answer: this may have been an app password, so a
	// refusal by the IdP cannot be final either.
	if !a.grant {
		return saslauth.Identity{}, fmt.Errorf("%w: %w", saslauth.ErrTemporary, err)
	}
	id, gerr := a.next.CheckPassword(ctx, username, password)
	if errors.Is(gerr, saslauth.ErrInvalidCredentials) {
		return saslauth.Identity{}, fmt.Errorf("%w: %w", saslauth.ErrTemporary, err)
	}
	return id, gerr
}

// checkGrant lets a matching app password in, asking the IdP first when its
// grant is overdue for a check.
func (a appPasswordAuthenticator) checkGrant(ctx context.Context, username string, v credstore.Verified) (saslauth.Identity, error) {
	if v.NeedsRecheck {
		switch err := a.checker.CheckLogin(ctx, v.GrantID); {
		case errors.Is(err, grantcheck.ErrRevoked):
			a.metrics.AppPasswordLogin("grant_revoked")
			return saslauth.Identity{}, fmt.Errorf("%w: %w", saslauth.ErrInvalidCredentials, err)
		case err != nil:
			a.metrics.AppPasswordLogin("idp_unavailable")
			return saslauth.Identity{}, fmt.Errorf("%w: %w", saslauth.ErrTemporary, err)
		}
	}
	a.metrics.AppPasswordLogin("ok")
	return saslauth.Identity{Username: username, CredentialID: v.ID, GrantID: v.GrantID}, nil
}

func (a appPasswordAuthenticator) CheckToken(ctx context.Context, token string) (saslauth.Identity, error) {
	return a.next.CheckToken(ctx, token)
}
