package oauthx

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// introspection is the part of an RFC 7662 answer oauthx reads.
type introspection struct {
	Active bool   `json:"active"`
	Exp    *int64 `json:"exp"`
	Sub    string `json:"sub"`
}

// viaIntrospection asks the RFC 7662 endpoint, authenticating as the client.
// It sees revocation, which local JWT checks cannot.
func (c *Client) viaIntrospection(ctx context.Context, ep *endpoints, token string) (id Identity, err error) {
	if ep.introspection == "" {
		return Identity{}, classed(ErrMisconfigured, "introspection validation: no introspection endpoint", nil)
	}
	if c.cfg.ClientID == "" {
		return Identity{}, classed(ErrMisconfigured, "introspection needs a client_id", nil)
	}
	if err := c.precheckJWT("introspection", token); err != nil {
		return Identity{}, err
	}
	start := time.Now()
	defer func() { c.obs.Request("introspection", outcome(err), time.Since(start)) }()
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	if ep.introspectionAuth == AuthPost {
		form.Set("client_id", c.cfg.ClientID)
		form.Set("client_secret", c.cfg.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.introspection, strings.NewReader(form.Encode()))
	if err != nil {
		return Identity{}, classed(ErrMisconfigured, "introspection URL", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if ep.introspectionAuth != AuthPost {
		// RFC 6749 2.3.1: both parts are form-urlencoded before Basic.
		req.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(c.cfg.ClientSecret))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Identity{}, transportError("introspection", err)
	}
	defer resp.Body.Close()
	body, err := readBody(resp.Body)
	if resp.StatusCode != http.StatusOK {
		// 401/403 here is our client authentication failing, not the token.
		return Identity{}, statusError("introspection", resp.StatusCode)
	}
	if err != nil {
		return Identity{}, classed(ErrUnavailable, "introspection: reading answer", err)
	}
	var claims map[string]any
	var in introspection
	if err := json.Unmarshal(body, &claims); err != nil || claims == nil {
		return Identity{}, classed(ErrUnavailable, "introspection: answer is not a JSON object", err)
	}
	if _, ok := claims["active"].(bool); !ok {
		return Identity{}, classed(ErrUnavailable, "introspection: answer has no boolean active", nil)
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return Identity{}, classed(ErrUnavailable, "introspection: answer", err)
	}
	if !in.Active {
		return Identity{}, classed(ErrInvalidToken, "introspection: token not active", nil)
	}
	id = Identity{AccessToken: token, Subject: in.Sub}
	if in.Exp != nil {
		id.Expires = time.Unix(*in.Exp, 0)
		if time.Now().After(id.Expires.Add(jwtLeeway)) {
			return Identity{}, classed(ErrInvalidToken, "introspection: token expired", nil)
		}
	}
	// Active ID tokens are answered too (Glewlwyd: token_type id_token).
	if err := c.checkAccessToken("introspection", "", claims); err != nil {
		return Identity{}, err
	}
	// RFC 7662 names the human-readable identifier "username".
	if err := c.usernameFrom(&id, claims, c.cfg.UsernameField, "username"); err != nil {
		return Identity{}, usernameError("introspection", err)
	}
	return id, nil
}
