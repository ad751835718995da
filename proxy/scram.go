package proxy

import (
	"bytes"
	"slices"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// nsSASLCB is XEP-0440's: which channel bindings a -PLUS mechanism can use here.
const nsSASLCB = "urn:xmpp:sasl-cb:0"

// scramBinding is what SCRAM-SHA-256-PLUS binds to on this connection:
// tls-exporter (RFC 9266) where the TLS session can export it, else
// tls-unique. One type only, advertised with XEP-0440, so a client never
// has to guess.
func (c *conn) scramBinding() (saslauth.ChannelBinding, bool) {
	if b, ok := c.channelBinding(saslauth.MechHTExpr); ok {
		return saslauth.ChannelBinding{Type: "tls-exporter", Data: b}, true
	}
	if b, ok := c.channelBinding(saslauth.MechHTUniq); ok {
		return saslauth.ChannelBinding{Type: "tls-unique", Data: b}, true
	}
	return saslauth.ChannelBinding{}, false
}

// mechanisms are the domain's, without -PLUS where nothing can be bound to.
func (c *conn) mechanisms() []string {
	mechs := c.domain.SASL.Mechanisms()
	if !slices.Contains(mechs, saslauth.MechSCRAMSHA256Plus) {
		return mechs
	}
	if _, ok := c.scramBinding(); ok {
		return mechs
	}
	return slices.DeleteFunc(slices.Clone(mechs), func(m string) bool { return m == saslauth.MechSCRAMSHA256Plus })
}

// channelBindingFeature is XEP-0440's list for the offered -PLUS mechanism;
// nil when none is offered. go-xmpp picks -PLUS only when it sees it.
func (c *conn) channelBindingFeature(mechs []string) []byte {
	if !slices.Contains(mechs, saslauth.MechSCRAMSHA256Plus) {
		return nil
	}
	cb, ok := c.scramBinding()
	if !ok {
		return nil
	}
	var b bytes.Buffer
	b.WriteString("<sasl-channel-binding xmlns='" + nsSASLCB + "'><channel-binding type='")
	escape(&b, cb.Type)
	b.WriteString("'/></sasl-channel-binding>")
	return b.Bytes()
}

func isSCRAM(mech string) bool {
	return mech == saslauth.MechSCRAMSHA256 || mech == saslauth.MechSCRAMSHA256Plus
}
