package oauthx

import (
	"context"
	"errors"
)

// ErrNoRemoteCheck: the server offers no endpoint that could tell whether a
// token was revoked (no introspection with a client, no userinfo).
var ErrNoRemoteCheck = errors.New("oauthx: no introspection or userinfo endpoint to re-check a token")

// RecheckToken asks the authorization server, bypassing the cache, whether
// token is still good: introspection when the client can use it, else
// userinfo. A local JWT check would not see a revocation, so it is never
// used here. Errors: ErrInvalidToken (revoked, expired, user gone),
// ErrUnavailable, ErrMisconfigured or ErrNoRemoteCheck.
func (c *Client) RecheckToken(ctx context.Context, token string) (Identity, error) {
	ep := c.ep.Load()
	if !ep.loaded {
		return Identity{}, c.notReady()
	}
	switch {
	case ep.introspection != "" && c.cfg.ClientID != "":
		return c.viaIntrospection(ctx, ep, token)
	case ep.userinfo != "":
		return c.viaUserinfo(ctx, ep, token)
	}
	return Identity{}, ErrNoRemoteCheck
}
