package saslauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/xdg-go/scram"
)

// SCRAM-SHA-256 (RFC 5802, RFC 7677) and its -PLUS form with channel binding,
// for credentials the proxy minted itself (app passwords): it holds their SCRAM
// keys, never a password an IdP knows. All of one user's credentials share a
// salt, so one server-first message fits whichever of them the client uses;
// the proof is then tried against each credential's key.
const (
	MechSCRAMSHA256     = "SCRAM-SHA-256"
	MechSCRAMSHA256Plus = "SCRAM-SHA-256-PLUS"
)

// SCRAMVerifier knows the SCRAM keys of a user's local credentials.
type SCRAMVerifier interface {
	// SCRAMKeys returns username's salt, iteration count and the keys of its
	// usable credentials. An unknown user gets a stable made-up salt and no
	// keys, so the answer does not tell who exists. Errors are classified like
	// an Authenticator's.
	SCRAMKeys(ctx context.Context, username string) (SCRAMKeys, error)
	// SCRAMLogin runs match, which names the credential whose key the
	// client's proof was made with ("" for none: ErrInvalidCredentials), and
	// lets that credential in with what else a login with it needs (revoked
	// since? grant check?). Login throttles wrap it, as they wrap
	// Authenticator.CheckPassword.
	SCRAMLogin(ctx context.Context, username string, match func() (credentialID string)) (Identity, error)
}

// SCRAMKeys are one user's SCRAM-SHA-256 key factors and stored keys.
type SCRAMKeys struct {
	Salt       []byte
	Iterations int
	Keys       []SCRAMKey
}

// SCRAMKey is one credential's StoredKey and ServerKey (RFC 5802 section 3).
type SCRAMKey struct {
	CredentialID         string
	StoredKey, ServerKey []byte
}

// ChannelBinding is the TLS channel binding (RFC 5929, RFC 9266) the
// connection offers for -PLUS mechanisms: Type as named in a gs2 header.
type ChannelBinding struct {
	Type string
	Data []byte
}

type channelBindingKey struct{}

// WithChannelBinding attaches the connection's channel binding for SCRAM-*-PLUS.
func WithChannelBinding(ctx context.Context, cb ChannelBinding) context.Context {
	return context.WithValue(ctx, channelBindingKey{}, cb)
}

func channelBindingFrom(ctx context.Context) ChannelBinding {
	cb, _ := ctx.Value(channelBindingKey{}).(ChannelBinding)
	return cb
}

// maxSCRAMMessage bounds a client message: a 2047-byte name escaped at most
// triples, plus nonce, binding and proof.
const maxSCRAMMessage = 8192

var (
	errSCRAMTooLong   = errors.New("SCRAM message too long or not UTF-8")
	errSCRAMNoCB      = errors.New("SCRAM-PLUS without channel binding on this connection")
	errSCRAMFlag      = errors.New("gs2 channel-binding flag does not fit the mechanism")
	errSCRAMProof     = errors.New("SCRAM proof matches no credential")
	errSCRAMFirst     = errors.New("malformed SCRAM client-first message")
	errSCRAMFinal     = errors.New("malformed SCRAM client-final message")
	errSCRAMBinding   = errors.New("SCRAM channel binding data mismatch")
	errSCRAMDowngrade = errors.New("client saw no channel binding offered, but it was: downgrade")
	errNoSCRAMKeys    = errors.New("no SCRAM verifier configured")
	errSCRAMIdentity  = errors.New("SCRAM verifier vouched for another user")
	errSCRAMNoCBTypes = errors.New("client asked for a channel binding type not offered")
)

type scramState int

const (
	scramFirst scramState = iota
	scramFinal
	scramDone
)

// scramSession runs the exchange with github.com/xdg-go/scram's server: a
// probe conversation answers the client-first message; for the final message
// one conversation per candidate key, replaying the first message with the
// same server nonce, finds the key the proof was made with.
type scramSession struct {
	cfg    Config
	mech   string
	state  scramState
	cb     scram.ChannelBinding
	nonce  string
	first  string
	local  string
	keys   SCRAMKeys
	result Result
}

func (c Config) startSCRAM(mech string) *scramSession {
	var b [18]byte
	rand.Read(b[:])
	return &scramSession{cfg: c, mech: mech, nonce: base64.RawStdEncoding.EncodeToString(b[:])}
}

func (s *scramSession) Result() Result { return s.result }

func (s *scramSession) Next(ctx context.Context, response []byte) ([]byte, bool, error) {
	if len(response) > maxSCRAMMessage || !utf8.Valid(response) {
		s.state = scramDone
		return nil, true, &Failure{Condition: MalformedRequest, Text: errSCRAMTooLong.Error(), Cause: errSCRAMTooLong}
	}
	switch s.state {
	case scramFirst:
		if response == nil {
			return []byte{}, false, nil // ask for the client-first message
		}
		s.state = scramFinal
		challenge, err := s.clientFirst(ctx, string(response))
		if err != nil {
			s.state = scramDone
			return nil, true, err
		}
		return []byte(challenge), false, nil
	case scramFinal:
		s.state = scramDone
		verifier, err := s.clientFinal(ctx, string(response))
		if err != nil {
			return nil, true, err
		}
		return []byte(verifier), true, nil
	}
	return nil, true, failure(MalformedRequest, errExchangeOver)
}

func (s *scramSession) clientFirst(ctx context.Context, msg string) (string, error) {
	plus := s.mech == MechSCRAMSHA256Plus
	if plus != strings.HasPrefix(msg, "p=") {
		// -PLUS must bind; the plain form must not (RFC 5802 section 6).
		return "", &Failure{Condition: MalformedRequest, Text: errSCRAMFlag.Error(), Cause: errSCRAMFlag}
	}
	if cb := channelBindingFrom(ctx); cb.Type != "" && len(cb.Data) > 0 {
		// Offering a binding makes a client's "y" flag a detected downgrade.
		s.cb = scram.ChannelBinding{Type: scram.ChannelBindingType(cb.Type), Data: cb.Data}
	} else if plus {
		return "", failure(MalformedRequest, errSCRAMNoCB)
	}
	if s.cfg.SCRAM == nil {
		return "", failure(TemporaryAuthFailure, errNoSCRAMKeys)
	}
	domain, err := parseDomain(s.cfg.Domain)
	if err != nil {
		return "", failure(TemporaryAuthFailure, err)
	}
	var lookupErr error
	conv := s.server(func(name string) (scram.StoredCredentials, error) {
		s.local, lookupErr = typedLocalpart(name, domain)
		if lookupErr != nil {
			return scram.StoredCredentials{}, lookupErr
		}
		s.keys, lookupErr = s.cfg.SCRAM.SCRAMKeys(ctx, s.local)
		return scram.StoredCredentials{KeyFactors: scram.KeyFactors{Salt: string(s.keys.Salt), Iters: s.keys.Iterations}}, lookupErr
	})
	challenge, err := conv.Step(msg)
	switch {
	case errors.Is(lookupErr, errBadUsername), errors.Is(lookupErr, errForeignDomain):
		return "", failure(NotAuthorized, lookupErr)
	case lookupErr != nil:
		return "", authFailure(lookupErr, "")
	case err == nil:
	case challenge == scram.ErrServerDoesSupportChannelBinding:
		return "", &Failure{Condition: NotAuthorized, Text: errSCRAMDowngrade.Error(), Cause: errSCRAMDowngrade}
	case challenge == scram.ErrChannelBindingNotSupported, challenge == scram.ErrUnsupportedChannelBindingType:
		return "", &Failure{Condition: NotAuthorized, Text: errSCRAMNoCBTypes.Error(), Cause: errSCRAMNoCBTypes}
	default: // the library's error may quote the message: never pass it on
		return "", &Failure{Condition: MalformedRequest, Text: errSCRAMFirst.Error(), Cause: errSCRAMFirst}
	}
	s.first = msg
	return challenge, nil
}

func (s *scramSession) clientFinal(ctx context.Context, msg string) (string, error) {
	// A probe with no key tells a malformed message or a binding mismatch
	// (the same for every key) from a wrong proof.
	probe := s.replay(scram.StoredCredentials{})
	if probe == nil {
		return "", failure(TemporaryAuthFailure, errSCRAMFirst)
	}
	switch code, err := probe.Step(msg); {
	case err == nil:
		return "", failure(NotAuthorized, errSCRAMProof) // an empty key cannot match
	case code == scram.ErrInvalidProof: // the keys will tell
	case code == scram.ErrChannelBindingsDontMatch:
		return "", failure(NotAuthorized, errSCRAMBinding)
	default:
		return "", &Failure{Condition: MalformedRequest, Text: errSCRAMFinal.Error(), Cause: errSCRAMFinal}
	}
	var verifier, authzid string
	match := func() string {
		for _, k := range s.keys.Keys {
			conv := s.replay(scram.StoredCredentials{StoredKey: k.StoredKey, ServerKey: k.ServerKey})
			if v, err := conv.Step(msg); err == nil && conv.Valid() {
				verifier, authzid = v, conv.AuthzID()
				return k.CredentialID
			}
		}
		return ""
	}
	id, err := s.cfg.SCRAM.SCRAMLogin(ctx, s.local, match)
	if err != nil {
		return "", authFailure(err, "")
	}
	if verifier == "" {
		return "", failure(NotAuthorized, errSCRAMProof) // a verifier that let in without matching
	}
	return verifier, s.login(id, authzid)
}

// login checks who the verifier let in and the authzid.
func (s *scramSession) login(id Identity, authzid string) error {
	if id.Username == "" {
		id.Username = s.local
	}
	if id.Username != s.local {
		return failure(NotAuthorized, errSCRAMIdentity)
	}
	domain, err := parseDomain(s.cfg.Domain)
	if err != nil {
		return failure(TemporaryAuthFailure, err)
	}
	user, err := bareJID(id.Username, domain)
	if err != nil {
		return failure(NotAuthorized, err)
	}
	if err := checkAuthzid(authzid, user); err != nil {
		return failure(InvalidAuthzid, err)
	}
	s.result = Result{Identity: id, Mechanism: s.mech}
	return nil
}

// server is a conversation under this exchange's nonce and binding.
func (s *scramSession) server(lookup scram.CredentialLookup) *scram.ServerConversation {
	srv, _ := scram.SHA256.NewServer(lookup) // never fails
	srv.WithNonceGenerator(func() string { return s.nonce })
	if s.cb.IsSupported() {
		return srv.NewConversationWithChannelBinding(s.cb)
	}
	return srv.NewConversation()
}

// replay is a conversation that has seen the client-first message, with the
// user's key factors and cred's keys; nil if the replay fails (it cannot, as
// the same message passed before).
func (s *scramSession) replay(cred scram.StoredCredentials) *scram.ServerConversation {
	cred.KeyFactors = scram.KeyFactors{Salt: string(s.keys.Salt), Iters: s.keys.Iterations}
	conv := s.server(func(string) (scram.StoredCredentials, error) { return cred, nil })
	if _, err := conv.Step(s.first); err != nil {
		return nil
	}
	return conv
}
