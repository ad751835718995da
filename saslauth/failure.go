package saslauth

import (
	"errors"
	"net/url"
	"strings"
)

var errExchangeOver = errors.New("exchange already finished")

func failure(condition string, cause error) *Failure {
	return &Failure{Condition: condition, Cause: cause}
}

// authFailure maps an Authenticator error to a SASL failure. The cause is the
// authenticator's message with the secret cut out: adapters may quote request
// bodies or URLs, and Failure must stay log-safe.
func authFailure(err error, secret string) *Failure {
	cause := redact(err, secret)
	switch {
	case errors.Is(err, ErrTemporary):
		return failure(TemporaryAuthFailure, cause)
	case errors.Is(err, ErrInvalidCredentials):
		return failure(NotAuthorized, cause)
	default:
		// An unclassified error is the authority's problem, not the client's.
		return failure(TemporaryAuthFailure, cause)
	}
}

// redactedError hides the wrapped error from errors.Unwrap (so no logger can walk
// to the unredacted text) but still answers errors.Is for it.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }

func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }

func redact(err error, secret string) error {
	msg := err.Error()
	if secret != "" {
		for _, s := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return &redactedError{msg: msg, err: err}
}
