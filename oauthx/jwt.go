package oauthx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// jwtLeeway absorbs clock skew between us and the authorization server.
const jwtLeeway = 30 * time.Second

// jwtAlgorithms are the asymmetric signature algorithms accepted; "none" and
// HMAC (a shared secret we do not have) are not.
var jwtAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// looksLikeJWT is a cheap shape test: three base64url parts, the first a JSON
// object header. It decides nothing about validity.
func looksLikeJWT(token string) bool {
	if strings.Count(token, ".") != 2 || !strings.HasPrefix(token, "eyJ") {
		return false
	}
	_, err := jwt.ParseSigned(token, jwtAlgorithms)
	return err == nil
}

// jwtClaims is a verified token's payload: the registered claims and all of
// them as a map for the username field, and the header's typ.
type jwtClaims struct {
	std jwt.Claims
	all map[string]any
	typ string
}

// verifyJWT checks a JWT access token locally (RFC 9068): signature against the
// issuer's keys, typ, iss, exp (required) and nbf with leeway, that it is no
// ID token and that it is meant for us (checkAccessToken). Errors wrap
// ErrInvalidToken, or ErrUnavailable when the keys cannot be fetched.
func (c *Client) verifyJWT(ctx context.Context, ep *endpoints, token string) (*jwtClaims, error) {
	cl, err := c.verifySigned(ctx, ep, token, typOK, "")
	if err != nil {
		return nil, err
	}
	if err := c.checkAccessToken("JWT", cl.typ, cl.all); err != nil {
		return nil, err
	}
	return cl, nil
}

// verifyIDToken checks an OpenID Connect ID token (Core 3.1.3.7): signature,
// iss, exp, and aud naming us. It may come without typ.
func (c *Client) verifyIDToken(ctx context.Context, ep *endpoints, token string) (*jwtClaims, error) {
	idTyp := func(h jose.Header) bool {
		typ, ok := h.ExtraHeaders[jose.HeaderType].(string)
		return !ok || strings.EqualFold(typ, "JWT")
	}
	return c.verifySigned(ctx, ep, token, idTyp, c.cfg.ClientID)
}

// verifySigned is the JWT check shared by access and ID tokens; they differ in
// the typ they may carry and the audience they must name (an ID token: our
// client_id; an access token: "", checked by checkAccessToken instead).
func (c *Client) verifySigned(ctx context.Context, ep *endpoints, token string, typOK func(jose.Header) bool, audience string) (*jwtClaims, error) {
	if ep.jwks == "" {
		return nil, classed(ErrMisconfigured, "jwt validation: no jwks URL", nil)
	}
	if ep.issuer == "" {
		return nil, classed(ErrMisconfigured, "jwt validation: no issuer to check iss against", nil)
	}
	tok, err := jwt.ParseSigned(token, jwtAlgorithms)
	if err != nil {
		return nil, classed(ErrInvalidToken, "not a signed JWT", err)
	}
	h := tok.Headers[0]
	if !typOK(h) {
		return nil, classed(ErrInvalidToken, "JWT typ not accepted here", nil)
	}
	keys, err := c.keys.candidates(ctx, ep.jwks, h.KeyID, h.Algorithm)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, classed(ErrInvalidToken, "no key of the issuer matches the JWT's kid and alg", nil)
	}
	out := &jwtClaims{}
	out.typ, _ = h.ExtraHeaders[jose.HeaderType].(string)
	verified := false
	for _, key := range keys {
		if tok.Claims(key.Key, &out.std, &out.all) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, classed(ErrInvalidToken, "JWT signature does not verify", nil)
	}
	if out.std.Expiry == nil {
		return nil, classed(ErrInvalidToken, "JWT has no exp", nil)
	}
	// iss is compared here, a trailing slash aside (as for the metadata).
	if strings.TrimSuffix(out.std.Issuer, "/") != strings.TrimSuffix(ep.issuer, "/") {
		return nil, classed(ErrInvalidToken, "JWT iss is not the issuer", nil)
	}
	if err := out.std.ValidateWithLeeway(jwt.Expected{Time: time.Now()}, jwtLeeway); err != nil {
		return nil, classed(ErrInvalidToken, "JWT claims", err)
	}
	if audience != "" && !audienceContains(out.all["aud"], audience) {
		return nil, classed(ErrInvalidToken, fmt.Sprintf("JWT aud does not contain %q", audience), nil)
	}
	return out, nil
}

// typOK accepts RFC 9068's at+jwt (with or without application/) and plain
// JWT, which many servers put on access and ID tokens alike.
func typOK(h jose.Header) bool {
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	return isATJWT(typ) || strings.EqualFold(typ, "jwt")
}

// audienceContains accepts aud as a string or an array of strings. A string is
// also read as a space-separated list: Glewlwyd puts its scopes there
// ("openid xmpp"), and a URI cannot contain a space.
func audienceContains(aud any, want string) bool {
	switch v := aud.(type) {
	case string:
		for s := range strings.FieldsSeq(v) {
			if s == want {
				return true
			}
		}
	case []any:
		for i, x := range v {
			if i == 64 {
				break
			}
			if s, ok := x.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}

// identityFromJWT takes the username from a verified JWT's claims.
func (c *Client) identityFromJWT(cl *jwtClaims, token string) (Identity, error) {
	id := Identity{AccessToken: token, Expires: cl.std.Expiry.Time(), Subject: cl.std.Subject}
	if err := c.usernameFrom(&id, cl.all, c.cfg.UsernameField); err != nil {
		return Identity{}, usernameError("JWT", err)
	}
	return id, nil
}

// usernameError classes a failed username look-up.
func usernameError(where string, err error) error {
	if errors.Is(err, errBadUsername) {
		return classed(ErrInvalidToken, where, err)
	}
	return classed(ErrMisconfigured, where, err)
}
