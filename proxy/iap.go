package proxy

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// XEP-0509 (Initial Authentication Pipelining): the features carry a version
// of themselves; a client that cached it may send <authenticate/> right behind
// its stream header, without waiting for the features, and names the version
// it assumed. A reconnect with FAST is then two round trips (TLS, and stream
// header with authenticate), not three.

const nsIAP = "urn:xmpp:iap:0"

// maxIAPMismatches bounds the attempts a stream may make with a stale
// version: they are not failed logins, so the login limits do not bound them.
const maxIAPMismatches = 3

// maxConfigVersion bounds the value a client names.
const maxConfigVersion = 64

var errIAPMismatch = errors.New("pipelined authenticate assumed other features (XEP-0509 config-version)")

// configVersion is the version of features: a hash of them as rendered,
// without the config-version itself. It changes whenever anything a client
// could choose from changes (mechanisms, inline features, FAST mechanisms).
func configVersion(features []byte) string {
	sum := sha256.Sum256(features)
	return base64.RawURLEncoding.EncodeToString(sum[:15])
}

// withConfigVersion adds the XEP-0509 feature to features (ending in
// </stream:features>) and records the version for the stream.
func (c *conn) withConfigVersion(features []byte) []byte {
	c.configVersion = configVersion(features)
	end := bytes.LastIndex(features, []byte("</stream:features>"))
	out := make([]byte, 0, len(features)+80)
	out = append(out, features[:end]...)
	out = append(out, "<config-version xmlns='"+nsIAP+"' value='"+c.configVersion+"'/>"...)
	return append(out, features[end:]...)
}

// iapMismatch answers an <authenticate/> that assumed other features: a
// failure "without prejudice" (XEP-0509), not counted as a failed login.
func (c *conn) iapMismatch() error {
	c.iapMismatches++
	c.s.cfg.Observer.SASL(mechanismLabel(c.mech), "config-version-mismatch")
	c.log.Info().Str("mechanism", c.mech).Int("attempt", c.iapMismatches).Msg("pipelined authenticate with a stale config-version")
	if c.iapMismatches > maxIAPMismatches {
		return &streamErr{cond: condPolicyViolation, text: "too many authentication attempts with a stale config-version", cause: errIAPMismatch}
	}
	return c.write([]byte("<failure xmlns='" + nsSASL2 + "'><" + saslauth.Aborted + " xmlns='" + nsSASL + "'/>" +
		"<config-version-mismatch xmlns='" + nsIAP + "'/><text xml:lang='en'>Configuration version mismatch</text></failure>"))
}
