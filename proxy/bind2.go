package proxy

import (
	"errors"
	"strings"
	"unicode"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/proxy/upstream"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// Bind2 (XEP-0386) translated for an upstream that only knows RFC 6120: the
// proxy restarts the upstream stream itself (a SASL2 client never does) and
// binds the resource there, before any stream management could count it.

// maxTagInResource bounds the client's part of a generated resource.
const maxTagInResource = 32

// bind2Resource is the client's tag made safe, a dot and a random part: the
// server picks Bind2 resources, and a random part keeps two devices with the
// same tag from kicking each other off.
func bind2Resource(tag string) string {
	var b strings.Builder
	for _, r := range tag {
		switch {
		case unicode.IsControl(r) || r == unicode.ReplacementChar:
			continue
		case unicode.IsSpace(r):
			r = '-'
		}
		if b.Len()+len(string(r)) > maxTagInResource {
			break
		}
		b.WriteRune(r)
	}
	if b.Len() > 0 {
		b.WriteByte('.')
	}
	b.WriteString(randomID(4))
	return b.String()
}

// bindUpstream restarts the upstream stream after its login, resumes or binds
// (with carbons and stream management) as the client asked inline, and
// prepares <success/> and the features.
func (c *conn) bindUpstream(res *loginResult, req *sasl2Request) (*loginResult, *saslauth.Failure, error) {
	rr := upstream.RestartRequest{Domain: c.domain.Name}
	var inline [][]byte
	resource := "" // the resumed session's, when the client resumes
	if req.resume != nil {
		var ok bool
		if resource, rr.Resume, ok = upstreamResume(req.resume); !ok {
			inline = append(inline, smFailedXML(&upstream.SMFailed{Condition: "item-not-found"}, false))
		}
	}
	if req.bind != nil {
		rr.Resource = bind2Resource(req.bind.tag)
		rr.Carbons = req.bind.carbons
		if e := req.bind.enableSM; e != nil {
			rr.EnableSM = &upstream.SMEnable{Resume: e.resume, Max: e.max}
		}
	}
	rs, err := upstream.Restart(c.ctx, res.session, rr)
	if err != nil {
		if c.isShutdown() {
			return nil, nil, &streamErr{cond: condSystemShutdown, cause: err}
		}
		if c.ctx.Err() != nil {
			return nil, nil, &streamErr{cond: condConnectionTimeout, cause: err}
		}
		c.log.Warn().Err(err).Str("mechanism", c.mech).Msg("upstream stream restart or bind failed")
		if errors.Is(err, upstream.ErrRejected) {
			return nil, &saslauth.Failure{Condition: saslauth.NotAuthorized, Cause: err}, nil
		}
		return nil, &saslauth.Failure{Condition: saslauth.TemporaryAuthFailure, Cause: err}, nil
	}
	res.session = rs.Session
	authzid := res.result.Username + "@" + c.domain.Name
	switch sm := rs.SM; {
	case sm.Resumed != nil:
		authzid += "/" + resource
		inline = append(inline, smResumedXML(sm.Resumed.H, req.resume.previd))
	case sm.ResumeFailed != nil:
		inline = append(inline, smFailedXML(sm.ResumeFailed, true))
	}
	if rs.JID != "" {
		authzid = rs.JID
		inline = append(inline, boundXML(rs))
	}
	if tok := c.fastAfterLogin(res, req); tok != nil {
		inline = append(inline, tok)
	}
	res.clientPrefix = sasl2Success(res.successData, authzid, inline, rs.Features)
	return res, nil, nil
}
