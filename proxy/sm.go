package proxy

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/proxy/upstream"
)

// XEP-0198 inline (SASL2 <resume/>, Bind2 <enable/>), translated to the
// upstream's legacy stream management by upstream.Restart. The session id the
// client gets carries the bound resource beside the upstream's id, so that a
// resume through any replica can name the full JID in <success/> without
// keeping state: "<base64url(resource)>.<upstream id>". The resource is no
// secret, and the upstream checks that the session is the user's.

// clientSMID wraps the upstream's session id for the client.
func clientSMID(resource, upstreamID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(resource)) + "." + upstreamID
}

// upstreamResume unwraps a client's previd; ok is false when it is not one of ours.
func upstreamResume(r *smResume) (resource string, up *upstream.SMResume, ok bool) {
	enc, id, found := strings.Cut(r.previd, ".")
	res, err := base64.RawURLEncoding.DecodeString(enc)
	if !found || err != nil || id == "" || len(res) == 0 {
		return "", nil, false
	}
	return string(res), &upstream.SMResume{H: r.h, PrevID: id}, true
}

// resourceOf is the resource part of a full JID.
func resourceOf(full string) string {
	_, res, _ := strings.Cut(full, "/")
	return res
}

// boundXML is Bind2's <bound/> with the inline stream management outcome.
func boundXML(rs *upstream.Restarted) []byte {
	var b bytes.Buffer
	b.WriteString("<bound xmlns='" + nsBind2 + "'>")
	switch {
	case rs.SM.Enabled != nil:
		e := rs.SM.Enabled
		b.WriteString("<enabled xmlns='" + nsSM + "'")
		// location is dropped: the client must come back through the proxy.
		writeAttr(&b, "id", clientSMID(resourceOf(rs.JID), e.ID))
		if e.Resume {
			b.WriteString(" resume='true'")
		}
		if e.Max > 0 {
			writeAttr(&b, "max", strconv.FormatUint(uint64(e.Max), 10))
		}
		b.WriteString("/>")
	case rs.SM.EnableFailed != nil:
		b.Write(smFailedXML(rs.SM.EnableFailed, false))
	}
	b.WriteString("</bound>")
	return b.Bytes()
}

func smResumedXML(h uint32, previd string) []byte {
	var b bytes.Buffer
	b.WriteString("<resumed xmlns='" + nsSM + "'")
	writeAttr(&b, "h", strconv.FormatUint(uint64(h), 10))
	writeAttr(&b, "previd", previd)
	b.WriteString("/>")
	return b.Bytes()
}

// smFailedXML is <failed/> with its stanza error condition; withH keeps the
// server's h (a failed resume tells the client what arrived).
func smFailedXML(f *upstream.SMFailed, withH bool) []byte {
	var b bytes.Buffer
	b.WriteString("<failed xmlns='" + nsSM + "'")
	if withH && f.H != nil {
		writeAttr(&b, "h", strconv.FormatUint(uint64(*f.H), 10))
	}
	b.WriteString("><")
	b.WriteString(safeCondition(f.Condition))
	b.WriteString(" xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>")
	return b.Bytes()
}

// safeCondition keeps an upstream's condition name only if it is a plain XML
// name: it is written as an element name.
func safeCondition(c string) string {
	if c == "" || strings.IndexFunc(c, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r == '-') }) >= 0 {
		return "undefined-condition"
	}
	return c
}
