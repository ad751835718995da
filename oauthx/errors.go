package oauthx

import (
	"context"
	"errors"
	"fmt"
	"net/url"
)

// Error classes. Every error oauthx returns wraps exactly one of them, so callers
// decide with errors.Is what the client is told.
var (
	// ErrInvalidCredentials: the authorization server rejected the user's
	// password (or the user). The client gets not-authorized.
	ErrInvalidCredentials = errors.New("oauthx: invalid credentials")
	// ErrInvalidToken: the token is not valid (bad signature, expired, revoked,
	// wrong issuer or audience, or its user cannot be a localpart). The client
	// gets not-authorized.
	ErrInvalidToken = errors.New("oauthx: invalid token")
	// ErrUnavailable: the authorization server could not be asked or gave no
	// usable answer (timeout, refused, 5xx, garbage, metadata not loaded yet).
	// The client gets temporary-auth-failure; retrying later may work.
	ErrUnavailable = errors.New("oauthx: authorization server unavailable")
	// ErrMisconfigured: our configuration and the server disagree (wrong client
	// secret, missing endpoint, username field absent). Logged loudly; the client
	// gets temporary-auth-failure.
	ErrMisconfigured = errors.New("oauthx: misconfigured")
)

// errBadUsername marks a token whose username exists but cannot be an XMPP
// localpart: the token is rejected, but it says nothing about our set-up.
var errBadUsername = errors.New("username is not a valid localpart")

// classed wraps a cause into an error class: "class: what: cause".
func classed(class error, what string, cause error) error {
	if cause == nil {
		return fmt.Errorf("%w: %s", class, what)
	}
	return fmt.Errorf("%w: %s: %w", class, what, cause)
}

// transportError classifies an error of http.Client.Do. The URL inside a
// *url.Error is redacted (user:password in a configured URL) and the request's
// own secrets never appear in it: tokens travel in headers and bodies only.
func transportError(what string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			ue.URL = u.Redacted()
		}
	}
	if errors.Is(err, context.Canceled) {
		return classed(ErrUnavailable, what+": canceled", err)
	}
	return classed(ErrUnavailable, what, err)
}
