package oauthx

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// viaUserinfo asks the OpenID Connect UserInfo endpoint about the token, as
// mod_auth_oauth_external does: 2xx and a username field mean valid. UserInfo
// says nothing about expiry, so the cache keeps such answers for CacheTTL.
func (c *Client) viaUserinfo(ctx context.Context, ep *endpoints, token string) (id Identity, err error) {
	if ep.userinfo == "" {
		return Identity{}, classed(ErrMisconfigured, "userinfo validation: no userinfo endpoint", nil)
	}
	// UserInfo says nothing of the audience: only a JWT's own claims can.
	if err := c.precheckJWT("userinfo", token); err != nil {
		return Identity{}, err
	}
	if c.cfg.Audience != "" && !looksLikeJWT(token) {
		return Identity{}, classed(ErrMisconfigured, "userinfo cannot check oauth.audience of an opaque token: use introspection", nil)
	}
	start := time.Now()
	defer func() { c.obs.Request("userinfo", outcome(err), time.Since(start)) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep.userinfo, nil)
	if err != nil {
		return Identity{}, classed(ErrMisconfigured, "userinfo URL", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return Identity{}, transportError("userinfo", err)
	}
	defer resp.Body.Close()
	body, err := readBody(resp.Body)
	switch s := resp.StatusCode; {
	case s >= 500 || s == http.StatusTooManyRequests:
		return Identity{}, classed(ErrUnavailable, "userinfo: HTTP "+http.StatusText(s), nil)
	case s == http.StatusNotFound || s == http.StatusMethodNotAllowed:
		return Identity{}, statusError("userinfo", s)
	case s < 200 || s > 299:
		// 400/401/403: the token was judged and refused (RFC 6750 3.1).
		return Identity{}, classed(ErrInvalidToken, "userinfo: HTTP "+http.StatusText(s), nil)
	case err != nil:
		return Identity{}, classed(ErrUnavailable, "userinfo: reading answer", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(body, &claims); err != nil || claims == nil {
		return Identity{}, classed(ErrUnavailable, "userinfo: answer is not a JSON object", err)
	}
	sub, _ := claims["sub"].(string)
	id = Identity{AccessToken: token, Subject: sub}
	if err := c.usernameFrom(&id, claims, c.cfg.UsernameField); err != nil {
		return Identity{}, usernameError("userinfo", err)
	}
	return id, nil
}
