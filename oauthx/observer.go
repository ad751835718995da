package oauthx

import (
	"errors"
	"time"
)

// Observer receives events for metrics. Its arguments never carry tokens,
// usernames or secrets. Implementations must be safe for concurrent use and fast.
type Observer interface {
	// Request reports one HTTP request to the authorization server.
	// endpoint: "discovery", "jwks", "token", "userinfo" or "introspection";
	// outcome: "ok", "invalid", "unavailable" or "misconfigured".
	Request(endpoint, outcome string, d time.Duration)
	// CacheHit and CacheMiss report token validation cache look-ups.
	CacheHit()
	CacheMiss()
}

type nopObserver struct{}

func (nopObserver) Request(string, string, time.Duration) {}
func (nopObserver) CacheHit()                             {}
func (nopObserver) CacheMiss()                            {}

// outcome names an error's class for the Observer.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrInvalidCredentials), errors.Is(err, ErrInvalidToken):
		return "invalid"
	case errors.Is(err, ErrMisconfigured):
		return "misconfigured"
	default:
		return "unavailable"
	}
}
