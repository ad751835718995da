package oauthx

import (
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// A bearer token presented by a client must be an access token meant for us.
// ID tokens are signed by the same keys and name the same user, so signature
// and issuer checks alone would let any relying party that ever received a
// user's ID token log in as that user; a token issued to another client
// would let that client do so. These checks apply to verified JWT claims, to
// introspection answers, and (only to refuse) to the unverified payload of a
// JWT sent to userinfo or introspection.

// idTokenSign names what marks claims as an ID token, or "" if nothing does.
// headerTyp is the JWT header's typ ("" for an introspection answer).
func idTokenSign(headerTyp string, claims map[string]any) string {
	for _, k := range []string{"at_hash", "c_hash", "s_hash"} {
		if _, ok := claims[k]; ok {
			return k + " claim" // binds an ID token to its access token or code
		}
	}
	if strFold(claims["typ"], "ID") { // Keycloak marks its ID tokens so
		return "typ ID"
	}
	if strFold(claims["token_type"], "id_token") { // Glewlwyd's introspection
		return "token_type id_token"
	}
	// nonce belongs to ID tokens, but Keycloak before 25 also copied it into
	// access tokens, which it marks typ Bearer.
	_, nonce := claims["nonce"]
	accessMarked := isATJWT(headerTyp) || strFold(claims["typ"], "Bearer")
	if nonce && !accessMarked {
		return "nonce claim"
	}
	return ""
}

// audienceProblem says why claims are not meant for us, or "". With an
// Audience configured, aud must contain it. Without one, a token that has
// an aud must name our client there, or have been issued to our client
// (RFC 9068 client_id, or azp); a token without aud passes, as nothing says
// whom it is for.
func (c *Client) audienceProblem(claims map[string]any) string {
	aud := claims["aud"]
	if c.cfg.Audience != "" {
		if !audienceContains(aud, c.cfg.Audience) {
			return fmt.Sprintf("aud does not contain %q", c.cfg.Audience)
		}
		return ""
	}
	if !audiencePresent(aud) || c.cfg.ClientID == "" {
		return ""
	}
	id := c.cfg.ClientID
	if audienceContains(aud, id) || strEq(claims["client_id"], id) || strEq(claims["azp"], id) {
		return ""
	}
	return "aud names neither our client_id nor oauth.audience, and the token was issued to another client"
}

// checkAccessToken refuses ID tokens and tokens meant for someone else;
// errors wrap ErrInvalidToken and never carry the token.
func (c *Client) checkAccessToken(where, headerTyp string, claims map[string]any) error {
	if sign := idTokenSign(headerTyp, claims); sign != "" {
		return classed(ErrInvalidToken, where+": an ID token is not an access token ("+sign+")", nil)
	}
	if p := c.audienceProblem(claims); p != "" {
		return classed(ErrInvalidToken, where+": "+p, nil)
	}
	return nil
}

// precheckJWT applies checkAccessToken to a JWT's payload before it is sent to
// the server: unverified, so it may only refuse. Non-JWTs pass.
func (c *Client) precheckJWT(where, token string) error {
	if !strings.HasPrefix(token, "eyJ") {
		return nil
	}
	tok, err := jwt.ParseSigned(token, jwtAlgorithms)
	if err != nil {
		return nil
	}
	var claims map[string]any
	if tok.UnsafeClaimsWithoutVerification(&claims) != nil {
		return nil
	}
	typ, _ := tok.Headers[0].ExtraHeaders[jose.HeaderType].(string)
	return c.checkAccessToken(where, typ, claims)
}

func isATJWT(typ string) bool {
	t := strings.ToLower(typ)
	return t == "at+jwt" || t == "application/at+jwt"
}

// strFold compares a marker; strEq an identifier (client ids are case-sensitive).
func strFold(v any, want string) bool {
	s, ok := v.(string)
	return ok && strings.EqualFold(s, want)
}

func strEq(v any, want string) bool {
	s, ok := v.(string)
	return ok && s == want
}

// audiencePresent: aud is a non-blank string or a non-empty array.
func audiencePresent(aud any) bool {
	switch v := aud.(type) {
	case string:
		return strings.TrimSpace(v) != ""
	case []any:
		return len(v) > 0
	}
	return false
}
