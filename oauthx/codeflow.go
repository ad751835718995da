package oauthx

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// AuthRequest is one browser sign-in with the authorization code flow and
// PKCE (S256). The caller makes State, Nonce and Verifier random per sign-in
// (NewAuthRequest does) and keeps them bound to the browser until the
// callback.
type AuthRequest struct {
	State, Nonce, Verifier string
	// RedirectURL is the callback registered at the IdP for our client.
	RedirectURL string
}

// NewAuthRequest returns a request with fresh random state, nonce and PKCE
// verifier.
func NewAuthRequest(redirectURL string) AuthRequest {
	return AuthRequest{
		State:       oauth2.GenerateVerifier(),
		Nonce:       oauth2.GenerateVerifier(),
		Verifier:    oauth2.GenerateVerifier(),
		RedirectURL: redirectURL,
	}
}

// SignIn is what a completed code flow proved: who signed in, and the
// refresh token that lets us ask the IdP about them later.
type SignIn struct {
	Username string // normalised localpart, as for tokens
	Subject  string // the ID token's sub
	Realm    string // what username_mapping split dropped (lower case); "" otherwise
	// RefreshToken is empty when the IdP issued none.
	RefreshToken string
	Expires      time.Time // the ID token's exp
}

// CanCodeFlow reports whether browser sign-in can work: an authorization
// and a token endpoint, keys and an issuer to verify ID tokens, a client id.
func (c *Client) CanCodeFlow() bool {
	ep := c.ep.Load()
	return ep.loaded && ep.authorization != "" && ep.token != "" && ep.jwks != "" && ep.issuer != "" && c.cfg.ClientID != ""
}

// AuthCodeURL is where to send the browser to sign in.
func (c *Client) AuthCodeURL(req AuthRequest) (string, error) {
	conf, err := c.codeConfig(req.RedirectURL)
	if err != nil {
		return "", err
	}
	return conf.AuthCodeURL(req.State, oauth2.S256ChallengeOption(req.Verifier),
		oauth2.SetAuthURLParam("nonce", req.Nonce)), nil
}

// ExchangeCode trades the callback's code for tokens and verifies the ID
// token: signature with the issuer's keys, iss, aud naming our client (and
// azp, when present), exp, and the nonce of req. The caller has already
// checked the callback's state against req.State. Errors wrap the classes of
// errors.go; a code or token never appears in them.
func (c *Client) ExchangeCode(ctx context.Context, code string, req AuthRequest) (SignIn, error) {
	in, err := c.exchangeCode(ctx, code, req)
	switch {
	case err == nil:
	case errors.Is(err, ErrMisconfigured):
		c.log.Error().Err(err).Msg("browser sign-in failed: configuration does not match the authorization server")
	case errors.Is(err, ErrUnavailable):
		c.log.Warn().Err(err).Msg("browser sign-in failed: authorization server unavailable")
	default:
		c.log.Info().Err(err).Msg("browser sign-in rejected")
	}
	return in, err
}

func (c *Client) exchangeCode(ctx context.Context, code string, req AuthRequest) (SignIn, error) {
	if code == "" || !tokenSyntaxOK(code) {
		return SignIn{}, classed(ErrInvalidCredentials, "empty or malformed authorization code", nil)
	}
	conf, err := c.codeConfig(req.RedirectURL)
	if err != nil {
		return SignIn{}, err
	}
	ep := c.ep.Load()
	tok, err := c.codeGrant(ctx, conf, code, req.Verifier)
	if err != nil {
		return SignIn{}, err
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" || !tokenSyntaxOK(raw) {
		return SignIn{}, classed(ErrMisconfigured, "token endpoint: no ID token (is openid in the scope?)", nil)
	}
	cl, err := c.verifyIDToken(ctx, ep, raw)
	if err != nil {
		return SignIn{}, err
	}
	nonce, _ := cl.all["nonce"].(string)
	if req.Nonce == "" || subtle.ConstantTimeCompare([]byte(nonce), []byte(req.Nonce)) != 1 {
		return SignIn{}, classed(ErrInvalidToken, "ID token nonce is not the one we sent", nil)
	}
	if azp, ok := cl.all["azp"].(string); ok && azp != c.cfg.ClientID {
		return SignIn{}, classed(ErrInvalidToken, "ID token azp names another client", nil)
	}
	if cl.std.Subject == "" {
		return SignIn{}, classed(ErrInvalidToken, "ID token has no sub", nil)
	}
	var who Identity
	err = c.usernameFrom(&who, cl.all, c.cfg.UsernameField)
	if errors.Is(err, errNoUsername) && ep.userinfo != "" {
		who, err = c.usernameFromUserinfo(ctx, ep, tok.AccessToken, cl.std.Subject)
	}
	if err != nil {
		return SignIn{}, usernameError("ID token", err)
	}
	return SignIn{Username: who.Username, Realm: who.Realm, Subject: cl.std.Subject, RefreshToken: tok.RefreshToken, Expires: cl.std.Expiry.Time()}, nil
}

// usernameFromUserinfo covers IdPs that keep the username out of the ID
// token. The answer must be about the same sub (OpenID Connect Core 5.3.2).
func (c *Client) usernameFromUserinfo(ctx context.Context, ep *endpoints, accessToken, sub string) (Identity, error) {
	id, err := c.viaUserinfo(ctx, ep, accessToken)
	if err != nil {
		return Identity{}, err
	}
	if id.Subject != sub {
		return Identity{}, classed(ErrInvalidToken, "userinfo sub is not the ID token's", nil)
	}
	return id, nil
}

// codeConfig is the oauth2 configuration of the code flow; the scope always
// holds openid, for the ID token, and offline_access where the server offers it.
func (c *Client) codeConfig(redirectURL string) (*oauth2.Config, error) {
	ep := c.ep.Load()
	if !ep.loaded {
		return nil, c.notReady()
	}
	if !c.CanCodeFlow() {
		return nil, classed(ErrMisconfigured, "browser sign-in needs an authorization endpoint, a token endpoint, keys, an issuer and a client_id", nil)
	}
	scopes := strings.Fields(c.cfg.Scope)
	if !slices.Contains(scopes, "openid") {
		scopes = append([]string{"openid"}, scopes...)
	}
	// App passwords live as long as their grant: without offline_access a
	// Keycloak refresh token dies with the browser's SSO session (10 h by
	// default), and Authentik and Zitadel issue none at all.
	if ep.offlineAccess && !slices.Contains(scopes, "offline_access") {
		scopes = append(scopes, "offline_access")
	}
	style := oauth2.AuthStyleInHeader
	if ep.tokenAuth == AuthPost || c.cfg.ClientSecret == "" {
		style = oauth2.AuthStyleInParams // a public client sends its id in the form
	}
	return &oauth2.Config{
		ClientID:     c.cfg.ClientID,
		ClientSecret: c.cfg.ClientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: ep.authorization, TokenURL: ep.token, AuthStyle: style},
		RedirectURL:  redirectURL,
		Scopes:       scopes,
	}, nil
}

// codeGrant posts grant_type=authorization_code with the PKCE verifier.
func (c *Client) codeGrant(ctx context.Context, conf *oauth2.Config, code, verifier string) (tok *oauth2.Token, err error) {
	start := time.Now()
	defer func() { c.obs.Request("token", outcome(err), time.Since(start)) }()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.http)
	tok, err = conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, grantError(err)
	}
	if !strings.EqualFold(tok.TokenType, "bearer") {
		return nil, classed(ErrMisconfigured, fmt.Sprintf("token endpoint: token_type %q is not bearer", truncate(tok.TokenType, 32)), nil)
	}
	return tok, nil
}
