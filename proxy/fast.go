package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"slices"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// FAST (XEP-0484) at the front: token logins are checked by the domain's
// saslauth.Config.FAST; tokens are minted, rotated and invalidated by a
// FASTTokens (the credential store, through internal/app).

// UserAgent is the client's XEP-0388 <user-agent/>: its id names the device.
type UserAgent struct {
	ID, Software, Device string
}

// FASTTokens mints and ends a domain's FAST tokens. Tokens hang off the
// grant of the login that asked for them, so IssueFAST fails with
// ErrNoGrant for a login without one (an IdP token, a password grant
// without a refresh token).
type FASTTokens interface {
	IssueFAST(ctx context.Context, id saslauth.Identity, mechanism string, ua UserAgent) (token string, expiry time.Time, err error)
	// InvalidateFAST ends the token id logged in with (<fast invalidate='true'/>).
	InvalidateFAST(ctx context.Context, id saslauth.Identity) error
	// RotateFAST reports whether the token of a token login (id.Expires is
	// its expiry) should be replaced now.
	RotateFAST(id saslauth.Identity) bool
}

// ErrNoGrant: the login has no grant a FAST token could hang off.
var ErrNoGrant = errors.New("login has no grant for a FAST token")

var errFASTNoDevice = errors.New("FAST without a user-agent id")

// fastOffered reports whether the domain does FAST at all.
func (c *conn) fastOffered() bool { return c.domain.FAST != nil && c.domain.SASL.FAST != nil }

// fastMechanisms are the HT mechanisms this connection's TLS can bind to.
func (c *conn) fastMechanisms() []string {
	if !c.fastOffered() {
		return nil
	}
	var out []string
	for _, m := range saslauth.HTMechanisms {
		if _, ok := c.channelBinding(m); ok {
			out = append(out, m)
		}
	}
	return out
}

// channelBinding is the data mech binds to on this connection, if available.
func (c *conn) channelBinding(mech string) ([]byte, bool) {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return nil, false
	}
	st := tc.ConnectionState()
	switch mech {
	case saslauth.MechHTNone:
		return nil, true
	case saslauth.MechHTUniq:
		return st.TLSUnique, len(st.TLSUnique) > 0 // TLS 1.2 only
	case saslauth.MechHTExpr:
		b, err := st.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32) // RFC 9266
		return b, err == nil
	case saslauth.MechHTEndp:
		return c.tlsEndPoint, c.tlsEndPoint != nil // learnt by tlsHandshake
	}
	return nil, false
}

// fastFeature is the inline <fast/> of the SASL2 features; nil when not offered.
func (c *conn) fastFeature() []byte {
	mechs := c.fastMechanisms()
	if len(mechs) == 0 {
		return nil
	}
	var b bytes.Buffer
	b.WriteString("<fast xmlns='" + nsFAST + "'>")
	writeMechanisms(&b, mechs)
	b.WriteString("</fast>")
	return b.Bytes()
}

// prepareFAST checks a token login's request and keeps what the HT session
// needs; a nil failure means go on.
func (c *conn) prepareFAST(req *sasl2Request) *saslauth.Failure {
	if !slices.Contains(c.fastMechanisms(), req.mechanism) {
		return &saslauth.Failure{Condition: saslauth.InvalidMechanism, Cause: errNotOfferedHere}
	}
	if req.userAgent.id == "" {
		return &saslauth.Failure{Condition: saslauth.MalformedRequest, Cause: errFASTNoDevice}
	}
	cb, _ := c.channelBinding(req.mechanism)
	c.fastIn = &saslauth.FASTInput{UserAgentID: req.userAgent.id, Count: req.count, Binding: cb}
	return nil
}

var errNotOfferedHere = errors.New("FAST mechanism not offered on this connection")

// fastAfterLogin ends the token on <fast invalidate/> and mints one when the
// client asked or its token is due for rotation. It returns the <token/> for
// <success/>, or nil. A token that cannot be minted is no failure: the client
// keeps logging in as it did.
func (c *conn) fastAfterLogin(res *loginResult, req *sasl2Request) []byte {
	if !c.fastOffered() || req.userAgent.id == "" {
		return nil
	}
	id := res.result.Identity
	if req.fast && req.invalidate {
		if err := c.domain.FAST.InvalidateFAST(c.ctx, id); err != nil {
			c.log.Warn().Err(err).Msg("FAST token not invalidated")
		}
		// This session must not end with the token it just retired.
		res.result.CredentialID = ""
		return nil
	}
	mech := req.requestToken
	if mech == "" && req.fast && c.domain.FAST.RotateFAST(id) {
		mech = req.mechanism
	}
	if mech == "" {
		return nil
	}
	if !slices.Contains(c.fastMechanisms(), mech) {
		c.log.Info().Str("fast_mechanism", mech).Msg("FAST token not issued: mechanism not offered")
		return nil
	}
	ua := UserAgent{ID: req.userAgent.id, Software: req.userAgent.software, Device: req.userAgent.device}
	tok, exp, err := c.domain.FAST.IssueFAST(c.ctx, id, mech, ua)
	if err != nil {
		c.log.Info().Err(err).Msg("FAST token not issued")
		return nil
	}
	var b bytes.Buffer
	b.WriteString("<token xmlns='" + nsFAST + "'")
	writeAttr(&b, "expiry", exp.UTC().Format(time.RFC3339))
	writeAttr(&b, "token", tok)
	b.WriteString("/>")
	return b.Bytes()
}

// guardedSCRAM puts the same guard in front of SCRAM proof checks.
type guardedSCRAM struct {
	inner saslauth.SCRAMVerifier
	g     guardedAuthenticator
}

func (a guardedSCRAM) SCRAMKeys(ctx context.Context, username string) (saslauth.SCRAMKeys, error) {
	return a.inner.SCRAMKeys(ctx, username)
}

func (a guardedSCRAM) SCRAMLogin(ctx context.Context, username string, match func() string) (saslauth.Identity, error) {
	return a.g.check(ctx, username, func() (saslauth.Identity, error) {
		return a.inner.SCRAMLogin(ctx, username, match)
	})
}

// guardedFAST puts the same guard in front of FAST token checks: a wrong or
// replayed token counts as a failed login for the client and the username.
type guardedFAST struct {
	inner saslauth.FASTVerifier
	g     guardedAuthenticator
}

func (a guardedFAST) VerifyFAST(ctx context.Context, username, mechanism string, match func([]byte) bool) (saslauth.Identity, []byte, error) {
	var token []byte
	id, err := a.g.check(ctx, username, func() (saslauth.Identity, error) {
		id, tok, err := a.inner.VerifyFAST(ctx, username, mechanism, match)
		token = tok
		return id, err
	})
	return id, token, err
}
