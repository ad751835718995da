package proxy

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// SASL2 (XEP-0388) at the front: the same mechanisms, limits and upstream login
// as legacy SASL (sasl.go), in SASL2's elements, then the upstream stream
// restart and Bind2 (bind2.go) before <success/>.

// featuresAuth offers legacy SASL and SASL2 with the same mechanisms after TLS.
// Over WebSocket only legacy SASL: SASL2 there (no stream restart, RFC 7395's
// <open/>) is not built yet, and Converse.js would pick mechanism names from
// both lists.
func (c *conn) featuresAuth() []byte {
	mechs := c.mechanisms()
	var b bytes.Buffer
	b.WriteString("<stream:features>")
	b.Write(c.channelBindingFeature(mechs))
	b.WriteString("<mechanisms xmlns='" + nsSASL + "'>")
	writeMechanisms(&b, mechs)
	b.WriteString("</mechanisms><authentication xmlns='" + nsSASL2 + "'>")
	writeMechanisms(&b, mechs)
	// Bind2 declares its namespace as the default: go-xmpp finds it no other way.
	b.WriteString("<inline><sm xmlns='" + nsSM + "'/><bind xmlns='" + nsBind2 + "'><inline>" +
		"<feature var='" + nsSM + "'/><feature var='" + nsCarbons + "'/></inline></bind>")
	b.Write(c.fastFeature())
	b.WriteString("</inline></authentication></stream:features>")
	return c.withConfigVersion(b.Bytes())
}

func writeMechanisms(b *bytes.Buffer, mechs []string) {
	for _, m := range mechs {
		b.WriteString("<mechanism>")
		escape(b, m)
		b.WriteString("</mechanism>")
	}
}

// attempt2 runs one SASL2 exchange that began with el (an <authenticate/>), the
// upstream login, and the restart and binding the client asked for.
func (c *conn) attempt2(el *element) (*loginResult, *saslauth.Failure, error) {
	c.mech, _ = el.attrValue("mechanism")
	req, err := parseAuthenticate(el)
	if err != nil {
		cond := saslauth.MalformedRequest
		if errors.Is(err, errSASL2NoMech) {
			cond = saslauth.InvalidMechanism
		}
		return nil, &saslauth.Failure{Condition: cond, Cause: err}, nil
	}
	if req.configVersion != "" && req.configVersion != c.configVersion {
		return nil, &saslauth.Failure{Condition: saslauth.Aborted, Cause: errIAPMismatch}, nil
	}
	c.agent = strings.TrimSpace(req.userAgent.software + " " + req.userAgent.device)
	defer func() { c.agent = "" }()
	if req.fast {
		if f := c.prepareFAST(req); f != nil {
			return nil, f, nil
		}
	}
	res, f, err := c.exchange(req.mechanism, req.initial, nil)
	if f != nil || err != nil {
		return nil, f, err
	}
	c.fastIn = nil // checked; an idle relayed session should not keep it
	res.session, f, err = c.loginUpstream(res.result)
	if f != nil || err != nil {
		return nil, f, err
	}
	return c.bindUpstream(res, req)
}

// startSASL starts mech, an HT one when this is a FAST login.
func (c *conn) startSASL(mech string) (saslauth.Session, error) {
	if c.fastIn != nil {
		return c.domain.SASL.StartFAST(mech)
	}
	return c.domain.SASL.Start(mech)
}

// authContext is what the SASL session and its authenticator see.
func (c *conn) authContext() context.Context {
	ctx := c.ctx
	if c.remoteIP.IsValid() {
		ctx = saslauth.WithClientAddr(ctx, c.remoteIP.String())
	}
	if c.fastIn != nil {
		ctx = saslauth.WithFASTInput(ctx, *c.fastIn)
	}
	if c.agent != "" {
		ctx = saslauth.WithClientAgent(ctx, c.agent)
	}
	if isSCRAM(c.mech) {
		if cb, ok := c.scramBinding(); ok {
			ctx = saslauth.WithChannelBinding(ctx, cb)
		}
	}
	return ctx
}

func (c *conn) challengeXML(data []byte) []byte {
	if c.sasl2 {
		return saslData2("challenge", data)
	}
	return saslChallenge(data)
}

func (c *conn) failureXML(f *saslauth.Failure) []byte {
	if !c.sasl2 {
		return saslFailure(f.Condition, f.Text)
	}
	// XEP-0388: the RFC 6120 condition, in the legacy SASL namespace.
	var b bytes.Buffer
	b.WriteString("<failure xmlns='" + nsSASL2 + "'><")
	b.WriteString(f.Condition)
	b.WriteString(" xmlns='" + nsSASL + "'/>")
	if f.Text != "" {
		b.WriteString("<text xml:lang='en'>")
		escape(&b, f.Text)
		b.WriteString("</text>")
	}
	b.WriteString("</failure>")
	return b.Bytes()
}

// saslData2 is a SASL2 <challenge/> with base64 data; "=" is empty data.
func saslData2(name string, data []byte) []byte {
	enc := "="
	if len(data) > 0 {
		enc = base64.StdEncoding.EncodeToString(data)
	}
	return []byte("<" + name + " xmlns='" + nsSASL2 + "'>" + enc + "</" + name + ">")
}

// sasl2Success is <success/> with the mechanism's additional data, the
// authorization identifier and the inline results (e.g. <bound/>), followed by
// the features of the stream that goes on without a restart.
func sasl2Success(additional []byte, authzid string, inline [][]byte, features [][]byte) []byte {
	var b bytes.Buffer
	b.WriteString("<success xmlns='" + nsSASL2 + "'>")
	if len(additional) > 0 {
		b.WriteString("<additional-data>" + base64.StdEncoding.EncodeToString(additional) + "</additional-data>")
	}
	b.WriteString("<authorization-identifier>")
	escape(&b, authzid)
	b.WriteString("</authorization-identifier>")
	for _, x := range inline {
		b.Write(x)
	}
	b.WriteString("</success><stream:features>")
	for _, f := range features {
		b.Write(f)
	}
	b.WriteString("</stream:features>")
	return b.Bytes()
}
