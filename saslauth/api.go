package saslauth

import (
	"context"
	"errors"
	"time"
)

// Identity is who a client proved to be.
type Identity struct {
	// Username is the XMPP localpart, already PRECIS-normalised.
	Username string
	// Token is the bearer token that proved the identity (OAUTHBEARER) or that the
	// password grant returned (PLAIN). Needed by the upstream "token" strategy. Never log it.
	Token string
	// Expires is when the token stops being valid; zero if unknown.
	Expires time.Time
	// CredentialID and GrantID name the local credential (an app password)
	// and the IdP grant behind it that proved the identity; empty for IdP
	// passwords and tokens. Revoking either ends the session.
	CredentialID, GrantID string
	// RefreshToken is the password grant's, when it returned one: the live
	// session is re-checked with it later. Never log it.
	RefreshToken string
}

// Authenticator checks credentials against whatever knows them (an OAuth server, via
// an adapter in cmd). It must classify failures with ErrInvalidCredentials or
// ErrTemporary (errors.Is), so that clients get the right SASL condition; any other
// error counts as temporary. CheckPassword gets the normalised localpart; an
// Identity with an empty Username there means "the typed name is right". An
// Identity's Username must be a valid XMPP localpart, else the login fails with
// not-authorized.
type Authenticator interface {
	CheckPassword(ctx context.Context, username, password string) (Identity, error)
	CheckToken(ctx context.Context, token string) (Identity, error)
}

var (
	// ErrInvalidCredentials: wrong password, bad or expired token -> not-authorized.
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrTemporary: the authority could not answer -> temporary-auth-failure.
	ErrTemporary = errors.New("authentication temporarily unavailable")
)

// SASL failure conditions of RFC 6120 section 6.5.
const (
	Aborted              = "aborted"
	InvalidAuthzid       = "invalid-authzid"
	InvalidMechanism     = "invalid-mechanism"
	MalformedRequest     = "malformed-request"
	NotAuthorized        = "not-authorized"
	TemporaryAuthFailure = "temporary-auth-failure"
)

// Failure is a SASL failure to report to the client as <failure><Condition/></failure>.
// Text is safe to log and send; Cause is for logs only and never carries a secret.
type Failure struct {
	Condition string
	Text      string
	Cause     error
}

func (f *Failure) Error() string {
	if f.Cause != nil {
		return "sasl " + f.Condition + ": " + f.Cause.Error()
	}
	return "sasl " + f.Condition
}

func (f *Failure) Unwrap() error { return f.Cause }

// Result is what a successful exchange yields.
type Result struct {
	Identity
	Mechanism string
	// Password is the PLAIN password, kept only for the upstream "passthrough" strategy.
	Password string
}

// Session is one SASL exchange on the server side.
// Next takes the client's decoded response (the <auth/> payload first, then each
// <response/>). It returns a challenge to send (done=false), or done=true with a nil
// error on success, or a *Failure. An empty initial response is given as an empty,
// non-nil slice; "=" in XMPP's base64 means empty, absent means nil.
type Session interface {
	Next(ctx context.Context, response []byte) (challenge []byte, done bool, err error)
	Result() Result
}

// Config says which mechanisms a domain offers and how they check credentials.
type Config struct {
	Authenticator Authenticator
	// Domain is the XMPP domain; an authzid must equal username@Domain.
	Domain string
	// AllowPlain offers PLAIN (the OAuth password grant behind it).
	AllowPlain bool
	// AllowOAuthBearer offers OAUTHBEARER (a token validation method exists).
	AllowOAuthBearer bool
	// FAST, when set, checks XEP-0484 token logins (StartFAST).
	FAST FASTVerifier
	// SCRAM, when set, offers SCRAM-SHA-256 and -PLUS for the credentials it
	// holds keys for (app passwords).
	SCRAM SCRAMVerifier
	// Scope and DiscoveryURL go into the RFC 7628 / XEP-0493 error challenge.
	Scope        string
	DiscoveryURL string
}
