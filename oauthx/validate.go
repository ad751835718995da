package oauthx

import (
	"context"
	"encoding/hex"
	"errors"
)

// maxTokenLen bounds a token we are willing to look at (or send anywhere).
const maxTokenLen = 16 << 10

// ValidateToken checks a bearer token (SASL OAUTHBEARER) and returns whose it
// is. Results are cached under the token's hash; concurrent validations of
// the same token share one request to the server.
func (c *Client) ValidateToken(ctx context.Context, token string) (Identity, error) {
	if !tokenSyntaxOK(token) {
		return Identity{}, classed(ErrInvalidToken, "empty, oversized or not a printable ASCII token", nil)
	}
	if !c.CanValidate() {
		return Identity{}, classed(ErrMisconfigured, "no token validation method is available", nil)
	}
	id, err := c.validateCached(ctx, token)
	c.logValidation(err)
	return id, err
}

func (c *Client) validateCached(ctx context.Context, token string) (Identity, error) {
	k := keyOf(token)
	if id, err, ok := c.cache.get(k); ok {
		if err == nil {
			id.AccessToken = token
		}
		return id, err
	}
	ch := c.flight.DoChan(hex.EncodeToString(k[:]), func() (any, error) {
		// The shared request must not die with the first caller's context;
		// it is bounded by its own deadline instead.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*c.cfg.Timeout)
		defer cancel()
		id, err := c.validate(fctx, token)
		c.cache.put(k, id, err)
		return id, err
	})
	select {
	case r := <-ch:
		id, _ := r.Val.(Identity)
		id.AccessToken = token
		if r.Err != nil {
			return Identity{}, r.Err
		}
		return id, nil
	case <-ctx.Done():
		return Identity{}, transportError("validation", ctx.Err())
	}
}

// validate runs the configured method, without cache.
func (c *Client) validate(ctx context.Context, token string) (Identity, error) {
	ep := c.ep.Load()
	if !ep.loaded {
		return Identity{}, c.notReady()
	}
	switch c.cfg.Validation {
	case ValidationUserinfo:
		return c.viaUserinfo(ctx, ep, token)
	case ValidationIntrospection:
		return c.viaIntrospection(ctx, ep, token)
	case ValidationJWT:
		cl, err := c.verifyJWT(ctx, ep, token)
		if err != nil {
			return Identity{}, err
		}
		return c.identityFromJWT(cl, token)
	}
	return c.validateAuto(ctx, ep, token)
}

// validateAuto: a JWT is checked locally when the keys are in; a JWT that
// verifies but carries no username field, or any other token, goes to
// introspection if possible, else to userinfo.
func (c *Client) validateAuto(ctx context.Context, ep *endpoints, token string) (Identity, error) {
	if ep.jwks != "" && ep.issuer != "" && c.keys.loaded(ep.jwks) && looksLikeJWT(token) {
		cl, err := c.verifyJWT(ctx, ep, token)
		if err != nil {
			return Identity{}, err
		}
		id, err := c.identityFromJWT(cl, token)
		if !errors.Is(err, ErrMisconfigured) {
			return id, err
		}
		c.noClaimOnce.Do(func() {
			c.log.Warn().Str("username_field", c.cfg.UsernameField).
				Msg("JWT access tokens carry no username field: validating them remotely (one request per new token)")
		})
	}
	switch {
	case ep.introspection != "" && c.cfg.ClientID != "":
		return c.viaIntrospection(ctx, ep, token)
	case ep.userinfo != "":
		return c.viaUserinfo(ctx, ep, token)
	}
	return Identity{}, classed(ErrMisconfigured, "auto validation: no JWKS, introspection or userinfo endpoint", nil)
}

// logValidation logs a failure by class; never the token.
func (c *Client) logValidation(err error) {
	switch {
	case err == nil:
	case errors.Is(err, ErrMisconfigured):
		c.log.Error().Err(err).Msg("token validation failed: configuration does not match the authorization server")
	case errors.Is(err, ErrUnavailable):
		c.log.Warn().Err(err).Msg("token validation failed: authorization server unavailable")
	default:
		c.log.Info().Err(err).Msg("token rejected")
	}
}

// tokenSyntaxOK accepts 1 to maxTokenLen printable ASCII characters without
// spaces: a superset of RFC 6750's b64token that is still safe to put in an
// Authorization header or a form.
func tokenSyntaxOK(token string) bool {
	if token == "" || len(token) > maxTokenLen {
		return false
	}
	for i := 0; i < len(token); i++ {
		if token[i] < 0x21 || token[i] > 0x7e {
			return false
		}
	}
	return true
}
