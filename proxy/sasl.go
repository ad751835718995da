package proxy

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/proxy/upstream"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// maxSASLSteps bounds the challenges of one exchange (OAUTHBEARER needs one).
const maxSASLSteps = 4

// loginResult is what the pre-auth phase hands to the relay.
type loginResult struct {
	session     *upstream.Session
	result      saslauth.Result
	successData []byte // additional data for <success/>, normally none
	// clientPrefix, when set, goes to the client instead of a legacy <success/>
	// (SASL2: <success/> and the features of the stream that goes on).
	clientPrefix []byte
}

var (
	errNoMechanism   = errors.New("auth without a mechanism")
	errBadBase64     = errors.New("payload is not base64")
	errTooManySteps  = errors.New("too many SASL steps")
	errUnexpectedEl  = errors.New("unexpected element")
	errStrayResponse = errors.New("response outside an exchange")
)

// authenticate runs SASL exchanges until one succeeds and the upstream accepts the
// user, or the client runs out of attempts.
func (c *conn) authenticate() (*loginResult, error) {
	for {
		el, err := c.next(inSASL)
		if err != nil {
			return nil, err
		}
		var f *saslauth.Failure
		c.sasl2 = el.name.Space == nsSASL2
		c.fastIn = nil
		switch {
		case el.name == xml.Name{Space: nsSASL, Local: "auth"}, el.name == xml.Name{Space: nsSASL2, Local: "authenticate"}:
			var res *loginResult
			res, f, err = c.attempt(el)
			if err != nil {
				return nil, err
			}
			if f == nil {
				c.s.cfg.Observer.SASL(mechanismLabel(c.mech), "success")
				return res, nil
			}
		case c.isSASL(el, "abort"):
			f = &saslauth.Failure{Condition: saslauth.Aborted}
		case c.isSASL(el, "response"):
			f = &saslauth.Failure{Condition: saslauth.MalformedRequest, Cause: errStrayResponse}
		default:
			return nil, unexpected(el)
		}
		if f.Cause == errIAPMismatch {
			if err := c.iapMismatch(); err != nil {
				return nil, err
			}
			continue
		}
		if err := c.failed(f); err != nil {
			return nil, err
		}
	}
}

// attempt runs one legacy SASL exchange that began with el (an <auth/>) and the
// upstream login, or its SASL2 form (sasl2.go).
func (c *conn) attempt(el *element) (*loginResult, *saslauth.Failure, error) {
	if c.sasl2 {
		return c.attempt2(el)
	}
	mech, _ := el.attrValue("mechanism")
	c.mech = mech
	if mech == "" {
		return nil, &saslauth.Failure{Condition: saslauth.InvalidMechanism, Cause: errNoMechanism}, nil
	}
	initial, initialErr := decodeSASL(el.text)
	res, f, err := c.exchange(mech, initial, initialErr)
	if f != nil || err != nil {
		return nil, f, err
	}
	res.session, f, err = c.loginUpstream(res.result)
	if f != nil || err != nil {
		return nil, f, err
	}
	return res, nil, nil
}

// exchange runs one SASL exchange of mech that began with initial (or the error
// decoding it). It returns the result, or the failure to report, or an error that
// ends the connection.
func (c *conn) exchange(mech string, resp []byte, initialErr error) (*loginResult, *saslauth.Failure, error) {
	sess, err := c.startSASL(mech)
	if err != nil {
		return nil, asFailure(err), nil
	}
	if initialErr != nil {
		return nil, &saslauth.Failure{Condition: saslauth.MalformedRequest, Cause: initialErr}, nil
	}
	actx := c.authContext()
	for step := 0; ; step++ {
		challenge, done, err := sess.Next(actx, resp)
		if err != nil {
			if c.isShutdown() || c.ctx.Err() != nil {
				return nil, nil, &streamErr{cond: condConnectionTimeout, cause: err} // or system-shutdown: see classify
			}
			return nil, asFailure(err), nil
		}
		if done {
			return &loginResult{result: sess.Result(), successData: challenge}, nil, nil
		}
		if step >= maxSASLSteps {
			return nil, &saslauth.Failure{Condition: saslauth.MalformedRequest, Cause: errTooManySteps}, nil
		}
		if err := c.write(c.challengeXML(challenge)); err != nil {
			return nil, nil, err
		}
		el, err := c.next(inSASL)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case c.isSASL(el, "response"):
			if resp, err = decodeSASL(el.text); err != nil {
				return nil, &saslauth.Failure{Condition: saslauth.MalformedRequest, Cause: err}, nil
			}
			if resp == nil {
				resp = []byte{} // an empty <response/> is an empty response
			}
		case c.isSASL(el, "abort"):
			return nil, &saslauth.Failure{Condition: saslauth.Aborted}, nil
		default:
			return nil, nil, unexpected(el)
		}
	}
}

// loginUpstream logs the authenticated user in upstream under the pre-auth deadline.
func (c *conn) loginUpstream(r saslauth.Result) (*upstream.Session, *saslauth.Failure, error) {
	defer c.dropPreconn() // taken by this login, or of no use to the next attempt
	sess, err := c.domain.Upstream.Login(c.takePreconn(upstream.WithClientAddr(c.ctx, c.raw.RemoteAddr())), upstream.Credentials{
		Username: r.Username,
		Password: r.Password,
		Token:    r.Token,
	})
	if err == nil {
		c.s.cfg.Observer.UpstreamLogin("ok")
		return sess, nil, nil
	}
	if errors.Is(err, upstream.ErrRejected) {
		c.s.cfg.Observer.UpstreamLogin("rejected")
	} else {
		c.s.cfg.Observer.UpstreamLogin("unavailable")
	}
	if c.isShutdown() {
		return nil, nil, &streamErr{cond: condSystemShutdown, cause: err}
	}
	c.log.Warn().Err(err).Str("mechanism", c.mech).Msg("upstream login failed")
	if errors.Is(err, upstream.ErrRejected) {
		return nil, &saslauth.Failure{Condition: saslauth.NotAuthorized, Cause: err}, nil
	}
	return nil, &saslauth.Failure{Condition: saslauth.TemporaryAuthFailure, Cause: err}, nil
}

// failed reports f to the client and counts it; past the limit the stream ends.
func (c *conn) failed(f *saslauth.Failure) error {
	c.dropPreconn() // no upstream connection for a client that failed
	c.failures++
	c.s.cfg.Observer.SASL(mechanismLabel(c.mech), f.Condition)
	c.log.Info().Str("mechanism", c.mech).Str("sasl_failure", f.Condition).AnErr("cause", f.Cause).Int("attempt", c.failures).Msg("authentication failed")
	if err := c.write(c.failureXML(f)); err != nil {
		return err
	}
	if c.failures >= c.s.cfg.MaxAuthAttempts {
		return &streamErr{cond: condPolicyViolation, text: "too many failed authentication attempts"}
	}
	return nil
}

// asFailure takes a *saslauth.Failure out of err; anything else is temporary.
func asFailure(err error) *saslauth.Failure {
	var f *saslauth.Failure
	if errors.As(err, &f) {
		return f
	}
	return &saslauth.Failure{Condition: saslauth.TemporaryAuthFailure, Cause: err}
}

func inSASL(n xml.Name) bool { return n.Space == nsSASL || n.Space == nsSASL2 }

// isSASL: el is the SASL element local of the dialect the current exchange
// speaks (c.sasl2), so a legacy <response/> cannot answer a SASL2 challenge.
func (c *conn) isSASL(el *element, local string) bool {
	ns := nsSASL
	if c.sasl2 {
		ns = nsSASL2
	}
	return el.name.Space == ns && el.name.Local == local
}

// unexpected is the stream error for an element that has no place before
// authentication: stanzas are not-authorized (RFC 6120 section 6.4.1), the rest
// unsupported.
func unexpected(el *element) error {
	if el.name.Space == nsClient {
		switch el.name.Local {
		case "iq", "message", "presence":
			return &streamErr{cond: condNotAuthorized, cause: errUnexpectedEl}
		}
	}
	return &streamErr{cond: condUnsupportedStanzaType, cause: errUnexpectedEl}
}

// decodeSASL decodes the base64 payload of <auth/> or <response/>: no text is an
// absent response (nil), "=" an empty one (RFC 6120 section 6.4.2).
func decodeSASL(text []byte) ([]byte, error) {
	t := bytes.TrimSpace(text)
	switch {
	case len(t) == 0:
		return nil, nil
	case len(t) == 1 && t[0] == '=':
		return []byte{}, nil
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(t)))
	n, err := base64.StdEncoding.Strict().Decode(out, t)
	if err != nil {
		return nil, errBadBase64 // never the payload: it may be a password
	}
	return out[:n], nil
}

// mechanismLabel keeps metric labels to a fixed set: the name is the client's.
func mechanismLabel(mech string) string {
	switch mech {
	case saslauth.MechPlain, saslauth.MechOAuthBearer, saslauth.MechSCRAMSHA256, saslauth.MechSCRAMSHA256Plus:
		return mech
	case saslauth.MechHTNone, saslauth.MechHTUniq, saslauth.MechHTEndp, saslauth.MechHTExpr:
		return "FAST"
	case "":
		return "none"
	}
	return "other"
}
