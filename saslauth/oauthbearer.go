package saslauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
)

var (
	errBearerNotAck = errors.New("client did not answer the error challenge with 0x01")
	errBearerProbe  = errors.New("empty token (discovery probe)")
)

type bearerState int

const (
	bearerStart bearerState = iota
	bearerAwaitMessage
	bearerErrorSent
	bearerDone
)

// oauthBearerSession is one RFC 7628 OAUTHBEARER exchange.
type oauthBearerSession struct {
	cfg    Config
	state  bearerState
	result Result
	// pending is the cause reported once the client acknowledges the error challenge.
	pending error
}

func (s *oauthBearerSession) Next(ctx context.Context, response []byte) ([]byte, bool, error) {
	switch s.state {
	case bearerStart:
		if response == nil {
			s.state = bearerAwaitMessage
			return []byte{}, false, nil
		}
		return s.message(ctx, response)
	case bearerAwaitMessage:
		return s.message(ctx, response)
	case bearerErrorSent:
		s.state = bearerDone
		// RFC 7628 section 3.2.3: the client MUST answer a single 0x01 (or abort).
		// Anything else breaks the protocol; a retry needs a new <auth/>.
		if len(response) != 1 || response[0] != kvsep {
			return nil, true, failure(MalformedRequest, errBearerNotAck)
		}
		return nil, true, failure(NotAuthorized, s.pending)
	default:
		return nil, true, failure(MalformedRequest, errExchangeOver)
	}
}

func (s *oauthBearerSession) message(ctx context.Context, msg []byte) ([]byte, bool, error) {
	s.state = bearerDone
	m, err := parseBearerMessage(msg)
	if err != nil {
		// Parse errors name the broken rule only, so they may go to the client.
		return nil, true, &Failure{Condition: MalformedRequest, Text: err.Error(), Cause: err}
	}
	domain, err := parseDomain(s.cfg.Domain)
	if err != nil {
		return nil, true, failure(TemporaryAuthFailure, err)
	}
	if m.token == "" {
		return s.errorChallenge(errBearerProbe)
	}
	if s.cfg.Authenticator == nil {
		return nil, true, failure(TemporaryAuthFailure, errNoAuthenticator)
	}
	id, err := s.cfg.Authenticator.CheckToken(ctx, m.token)
	if err != nil {
		f := authFailure(err, m.token)
		if f.Condition == NotAuthorized {
			return s.errorChallenge(f.Cause)
		}
		// The IdP being down is not the token's fault: no invalid_token challenge.
		return nil, true, f
	}
	user, err := bareJID(id.Username, domain)
	if err != nil {
		return nil, true, failure(NotAuthorized, err)
	}
	if err := checkAuthzid(m.authzid, user); err != nil {
		return nil, true, failure(InvalidAuthzid, err)
	}
	id.Username = user.Localpart()
	if id.Token == "" {
		id.Token = m.token
	}
	s.result = Result{Identity: id, Mechanism: MechOAuthBearer}
	return nil, true, nil
}

// errorChallenge sends the RFC 7628 section 3.2.2 JSON error and waits for 0x01.
func (s *oauthBearerSession) errorChallenge(cause error) ([]byte, bool, error) {
	s.state = bearerErrorSent
	s.pending = cause
	return s.cfg.ErrorChallenge(), false, nil
}

// bearerError is the RFC 7628 section 3.2.2 server error document.
type bearerError struct {
	Status string `json:"status"`
	Scope  string `json:"scope,omitempty"`
	// XEP-0493 requires the authorization server's metadata URL here.
	OpenIDConfiguration string `json:"openid-configuration,omitempty"`
}

// ErrorChallenge is the OAUTHBEARER error challenge this Config sends for an
// empty (probe) or rejected token: {"status":"invalid_token","scope":...,
// "openid-configuration":...}, empty fields left out.
func (c Config) ErrorChallenge() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // URLs with & stay readable; no HTML context here
	// Encoding a struct of strings cannot fail.
	_ = enc.Encode(bearerError{Status: "invalid_token", Scope: c.Scope, OpenIDConfiguration: c.DiscoveryURL})
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func (s *oauthBearerSession) Result() Result { return s.result }
