package saslauth

import (
	"bytes"
	"context"
	"errors"
	"unicode/utf8"
)

// PLAIN field limits, in bytes as sent. A bare JID is at most 2047 bytes and any
// JID at most 3071 (RFC 7622); no IdP wants a longer password than 4 KiB.
const (
	maxPlainAuthzid  = 3071
	maxPlainAuthcid  = 2047
	maxPlainPassword = 4096
	maxPlainMessage  = maxPlainAuthzid + 1 + maxPlainAuthcid + 1 + maxPlainPassword
)

var (
	errPlainTooLong   = errors.New("PLAIN message too long")
	errPlainFields    = errors.New("PLAIN message needs exactly two NUL separators")
	errPlainEmpty     = errors.New("PLAIN authcid or password empty")
	errPlainFieldSize = errors.New("PLAIN field too long")
	errPlainUTF8      = errors.New("PLAIN field not valid UTF-8")
)

type plainState int

const (
	plainStart plainState = iota
	plainAwaitResponse
	plainDone
)

// plainSession is one RFC 4616 PLAIN exchange.
type plainSession struct {
	cfg    Config
	state  plainState
	result Result
}

func (s *plainSession) Next(ctx context.Context, response []byte) ([]byte, bool, error) {
	switch s.state {
	case plainStart:
		if response == nil {
			// No initial response: an empty challenge asks for it (RFC 6120 6.4.2).
			s.state = plainAwaitResponse
			return []byte{}, false, nil
		}
	case plainAwaitResponse:
	default:
		return nil, true, failure(MalformedRequest, errExchangeOver)
	}
	s.state = plainDone
	if err := s.finish(ctx, response); err != nil {
		return nil, true, err
	}
	return nil, true, nil
}

func (s *plainSession) finish(ctx context.Context, msg []byte) error {
	p, err := parsePlain(msg)
	if err != nil {
		return &Failure{Condition: MalformedRequest, Text: err.Error(), Cause: err}
	}
	domain, err := parseDomain(s.cfg.Domain)
	if err != nil {
		return failure(TemporaryAuthFailure, err)
	}
	if s.cfg.Authenticator == nil {
		return failure(TemporaryAuthFailure, errNoAuthenticator)
	}
	local, err := typedLocalpart(p.authcid, domain)
	if err != nil {
		return failure(NotAuthorized, err)
	}
	id, err := s.cfg.Authenticator.CheckPassword(ctx, local, p.password)
	if err != nil {
		return authFailure(err, p.password)
	}
	// The authority's idea of the user wins; empty means it vouches for the typed name.
	if id.Username == "" {
		id.Username = local
	}
	user, err := bareJID(id.Username, domain)
	if err != nil {
		return failure(NotAuthorized, err)
	}
	if err := checkAuthzid(p.authzid, user); err != nil {
		return failure(InvalidAuthzid, err)
	}
	id.Username = user.Localpart()
	s.result = Result{Identity: id, Mechanism: MechPlain, Password: p.password}
	return nil
}

func (s *plainSession) Result() Result { return s.result }

type plainMessage struct {
	authzid, authcid, password string
}

// parsePlain splits message = [authzid] NUL authcid NUL passwd (RFC 4616 section 2).
// Errors name the rule broken, never the content.
func parsePlain(msg []byte) (plainMessage, error) {
	if len(msg) > maxPlainMessage {
		return plainMessage{}, errPlainTooLong
	}
	f := bytes.Split(msg, []byte{0})
	if len(f) != 3 {
		return plainMessage{}, errPlainFields
	}
	if len(f[1]) == 0 || len(f[2]) == 0 {
		return plainMessage{}, errPlainEmpty
	}
	if len(f[0]) > maxPlainAuthzid || len(f[1]) > maxPlainAuthcid || len(f[2]) > maxPlainPassword {
		return plainMessage{}, errPlainFieldSize
	}
	for _, b := range f {
		if !utf8.Valid(b) {
			return plainMessage{}, errPlainUTF8
		}
	}
	return plainMessage{authzid: string(f[0]), authcid: string(f[1]), password: string(f[2])}, nil
}
