package saslauth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"slices"
	"unicode/utf8"
)

// HT-SHA-256-* (draft-schmaus-kitten-sasl-ht, used by XEP-0484 FAST): the
// client proves it holds a token with HMAC(token, "Initiator" || cb) and the
// server answers HMAC(token, "Responder" || cb), cb being the channel binding
// data the mechanism names (none for -NONE).
const (
	MechHTNone = "HT-SHA-256-NONE" // no channel binding
	MechHTUniq = "HT-SHA-256-UNIQ" // tls-unique (TLS 1.2 only)
	MechHTEndp = "HT-SHA-256-ENDP" // tls-server-end-point
	MechHTExpr = "HT-SHA-256-EXPR" // tls-exporter
)

// HTMechanisms are the HT mechanisms this package implements, strongest first.
var HTMechanisms = []string{MechHTExpr, MechHTUniq, MechHTEndp, MechHTNone}

// FASTVerifier checks a token login: it finds username's stored token that
// match accepts and returns who it stands for and the token (the responder
// message needs it). Errors are classified like an Authenticator's.
type FASTVerifier interface {
	VerifyFAST(ctx context.Context, username, mechanism string, match func(token []byte) bool) (Identity, []byte, error)
}

// FASTInput is what the transport knows about a token login: the client's
// device (XEP-0388 user-agent id), its counter (-1: none) and the channel
// binding data of the mechanism (nil for -NONE).
type FASTInput struct {
	UserAgentID string
	Count       int64
	Binding     []byte
}

type fastInputKey struct{}

// WithFASTInput attaches in to ctx for the HT session and the FASTVerifier.
func WithFASTInput(ctx context.Context, in FASTInput) context.Context {
	return context.WithValue(ctx, fastInputKey{}, in)
}

// FASTInputFrom returns what WithFASTInput attached.
func FASTInputFrom(ctx context.Context) (FASTInput, bool) {
	in, ok := ctx.Value(fastInputKey{}).(FASTInput)
	return in, ok
}

var (
	errHTMessage = errors.New("HT message is not authcid NUL 32-byte HMAC")
	errHTNoInput = errors.New("HT login without FAST input")
)

// maxHTAuthcid bounds the authcid as PLAIN does.
const maxHTAuthcid = maxPlainAuthcid

// StartFAST begins an HT exchange for a FAST login (XEP-0484); HT mechanisms
// are never offered as ordinary SASL mechanisms.
func (c Config) StartFAST(mechanism string) (Session, error) {
	if c.FAST == nil || !slices.Contains(HTMechanisms, mechanism) {
		return nil, &Failure{Condition: InvalidMechanism, Cause: errNotOffered}
	}
	return &htSession{cfg: c, mech: mechanism}, nil
}

// htSession is one HT exchange: one message from the client, no challenge.
type htSession struct {
	cfg    Config
	mech   string
	done   bool
	result Result
}

func (s *htSession) Next(ctx context.Context, response []byte) ([]byte, bool, error) {
	if s.done {
		return nil, true, failure(MalformedRequest, errExchangeOver)
	}
	s.done = true
	in, ok := FASTInputFrom(ctx)
	if !ok {
		return nil, true, failure(TemporaryAuthFailure, errHTNoInput)
	}
	authcid, proof, err := parseHT(response)
	if err != nil {
		return nil, true, &Failure{Condition: MalformedRequest, Text: err.Error(), Cause: err}
	}
	domain, err := parseDomain(s.cfg.Domain)
	if err != nil {
		return nil, true, failure(TemporaryAuthFailure, err)
	}
	local, err := typedLocalpart(authcid, domain)
	if err != nil {
		return nil, true, failure(NotAuthorized, err)
	}
	id, token, err := s.cfg.FAST.VerifyFAST(ctx, local, s.mech, func(token []byte) bool {
		return hmac.Equal(htHMAC(token, "Initiator", in.Binding), proof)
	})
	if err != nil {
		return nil, true, authFailure(err, "")
	}
	if id.Username == "" {
		id.Username = local
	}
	s.result = Result{Identity: id, Mechanism: s.mech}
	return htHMAC(token, "Responder", in.Binding), true, nil
}

func (s *htSession) Result() Result { return s.result }

// parseHT splits authcid NUL HMAC; errors never quote the message.
func parseHT(msg []byte) (authcid string, proof []byte, err error) {
	i := bytes.IndexByte(msg, 0)
	if i <= 0 || i > maxHTAuthcid || len(msg)-i-1 != sha256.Size || !utf8.Valid(msg[:i]) {
		return "", nil, errHTMessage
	}
	return string(msg[:i]), msg[i+1:], nil
}

func htHMAC(token []byte, label string, binding []byte) []byte {
	m := hmac.New(sha256.New, token)
	m.Write([]byte(label))
	m.Write(binding)
	return m.Sum(nil)
}
