package proxy

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
)

// Namespaces of RFC 6120.
const (
	nsStream  = "http://etherx.jabber.org/streams"
	nsClient  = "jabber:client"
	nsTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsStreams = "urn:ietf:params:xml:ns:xmpp-streams"
)

// Stream error conditions (RFC 6120 section 4.9.3) the proxy sends.
const (
	condBadFormat              = "bad-format"
	condConnectionTimeout      = "connection-timeout"
	condHostUnknown            = "host-unknown"
	condInternalServerError    = "internal-server-error"
	condInvalidNamespace       = "invalid-namespace"
	condNotAuthorized          = "not-authorized"
	condNotWellFormed          = "not-well-formed"
	condPolicyViolation        = "policy-violation"
	condRemoteConnectionFailed = "remote-connection-failed"
	condResourceConstraint     = "resource-constraint"
	condRestrictedXML          = "restricted-xml"
	condSystemShutdown         = "system-shutdown"
	condUnsupportedStanzaType  = "unsupported-stanza-type"
	condUnsupportedVersion     = "unsupported-version"
)

// streamHeader is our opening <stream:stream>. from is omitted when empty (the client
// asked for a domain we do not serve).
func streamHeader(from, id string) []byte {
	var b bytes.Buffer
	b.WriteString("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'")
	if from != "" {
		writeAttr(&b, "from", from)
	}
	writeAttr(&b, "id", id)
	b.WriteString(" version='1.0' xml:lang='en'>")
	return b.Bytes()
}

const streamClose = "</stream:stream>"

// streamError is a stream error followed by the closing tag (RFC 6120 section 4.9).
func streamError(cond, text string) []byte {
	var b bytes.Buffer
	b.WriteString("<stream:error><")
	b.WriteString(cond)
	b.WriteString(" xmlns='" + nsStreams + "'/>")
	if text != "" {
		b.WriteString("<text xmlns='" + nsStreams + "' xml:lang='en'>")
		escape(&b, text)
		b.WriteString("</text>")
	}
	b.WriteString("</stream:error>" + streamClose)
	return b.Bytes()
}

// featuresStartTLS is all we offer before TLS.
func featuresStartTLS() []byte {
	return []byte("<stream:features><starttls xmlns='" + nsTLS + "'><required/></starttls></stream:features>")
}

const (
	tlsProceed = "<proceed xmlns='" + nsTLS + "'/>"
	tlsFailure = "<failure xmlns='" + nsTLS + "'/>" + streamClose
)

// saslFailure is <failure><cond/>[<text/>]</failure> (RFC 6120 section 6.5).
func saslFailure(cond, text string) []byte {
	var b bytes.Buffer
	b.WriteString("<failure xmlns='" + nsSASL + "'><")
	b.WriteString(cond)
	b.WriteString("/>")
	if text != "" {
		b.WriteString("<text xml:lang='en'>")
		escape(&b, text)
		b.WriteString("</text>")
	}
	b.WriteString("</failure>")
	return b.Bytes()
}

// saslChallenge and saslSuccess carry base64 data; "=" stands for empty data,
// and a <success/> without data is empty.
func saslChallenge(data []byte) []byte { return saslData("challenge", data, true) }
func saslSuccess(data []byte) []byte   { return saslData("success", data, false) }

func saslData(name string, data []byte, always bool) []byte {
	var b bytes.Buffer
	b.WriteString("<" + name + " xmlns='" + nsSASL + "'")
	switch {
	case len(data) > 0:
		b.WriteString(">")
		b.WriteString(base64.StdEncoding.EncodeToString(data))
		b.WriteString("</" + name + ">")
	case always:
		b.WriteString(">=</" + name + ">")
	default:
		b.WriteString("/>")
	}
	return b.Bytes()
}

func writeAttr(b *bytes.Buffer, name, value string) {
	b.WriteString(" " + name + "='")
	escape(b, value)
	b.WriteString("'")
}

// escape writes s as XML text, safe inside element content and quoted attributes.
func escape(b *bytes.Buffer, s string) {
	_ = xml.EscapeText(b, []byte(s)) // writes to a bytes.Buffer cannot fail
}
