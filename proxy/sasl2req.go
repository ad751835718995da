package proxy

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// Namespaces of XEP-0388 (SASL2), XEP-0386 (Bind2) and XEP-0484 (FAST).
const (
	nsSASL2 = "urn:xmpp:sasl:2"
	nsBind2 = "urn:xmpp:bind:0"
	nsFAST  = "urn:xmpp:fast:0"
	nsSM    = "urn:xmpp:sm:3"
	// nsCarbons is XEP-0280's, enabled inline through Bind2.
	nsCarbons = "urn:xmpp:carbons:2"
)

// Bounds on what a client may describe itself with; the element size limit
// bounds the whole <authenticate/> already, these keep logs and the store tidy.
const (
	maxUserAgentID    = 128
	maxUserAgentField = 256
	maxBindTag        = 64
)

var (
	errSASL2NoMech    = errors.New("authenticate without a mechanism")
	errSASL2Malformed = errors.New("malformed authenticate")
)

// sasl2Request is what a client asks for in <authenticate xmlns='urn:xmpp:sasl:2'/>.
type sasl2Request struct {
	mechanism string
	initial   []byte // decoded initial response; nil when absent
	userAgent userAgent
	bind      *bind2Request // nil: no Bind2
	// FAST (XEP-0484): a token asked for, or this login is one with a token.
	requestToken string    // mechanism of <request-token/>, "" if none
	fast         bool      // <fast/> present: the mechanism is a FAST one
	invalidate   bool      // <fast invalidate='true'/>
	count        int64     // <fast count/>, -1 when absent
	resume       *smResume // XEP-0198 <resume/> inline (XEP-0388)
	// configVersion is XEP-0509's: the features the client assumed when it
	// pipelined this <authenticate/>; "" when it waited for them.
	configVersion string
}

// smResume is a client's inline <resume/>.
type smResume struct {
	h      uint32
	previd string
}

// userAgent is XEP-0388's <user-agent/>: all optional, all the client's words.
type userAgent struct {
	id, software, device string
}

// bind2Request is XEP-0386's <bind/> inside <authenticate/>.
type bind2Request struct {
	tag      string
	carbons  bool      // <enable xmlns='urn:xmpp:carbons:2'/>
	enableSM *smEnable // <enable xmlns='urn:xmpp:sm:3'/>
}

// smEnable is a client's inline <enable/> inside Bind2's <bind/>.
type smEnable struct {
	resume bool
	max    uint32
}

// parseAuthenticate reads el, an <authenticate/> in the SASL2 namespace. Unknown
// children are ignored (they are extensions we do not offer). Errors are
// malformed-request material and never quote the payload.
func parseAuthenticate(el *element) (*sasl2Request, error) {
	mech, _ := el.attrValue("mechanism")
	if mech == "" {
		return nil, errSASL2NoMech
	}
	r := &sasl2Request{mechanism: mech, count: -1}
	seen := map[string]bool{}
	for _, ch := range el.children {
		key := ch.name.Space + " " + ch.name.Local
		if seen[key] {
			return nil, errSASL2Malformed // one of each: which would count?
		}
		seen[key] = true
		switch {
		case ch.name.Space == nsSASL2 && ch.name.Local == "initial-response":
			b, err := decodeSASL(ch.text)
			if err != nil {
				return nil, err
			}
			if b == nil {
				b = []byte{} // present but empty is an empty response
			}
			r.initial = b
		case ch.name.Space == nsSASL2 && ch.name.Local == "user-agent":
			ua, err := parseUserAgent(ch)
			if err != nil {
				return nil, err
			}
			r.userAgent = ua
		case ch.name.Space == nsBind2 && ch.name.Local == "bind":
			b, err := parseBind2(ch)
			if err != nil {
				return nil, err
			}
			r.bind = b
		case ch.name.Space == nsSM && ch.name.Local == "resume":
			h, err := parseUint32Attr(ch, "h", true)
			previd, _ := ch.attrValue("previd")
			if err != nil || previd == "" || len(previd) > maxUserAgentField {
				return nil, errSASL2Malformed
			}
			r.resume = &smResume{h: h, previd: previd}
		case ch.name.Space == nsFAST && ch.name.Local == "request-token":
			m, _ := ch.attrValue("mechanism")
			if m == "" {
				return nil, errSASL2Malformed
			}
			r.requestToken = m
		case ch.name.Space == nsIAP && ch.name.Local == "config-version":
			v, _ := ch.attrValue("value")
			if v == "" || len(v) > maxConfigVersion {
				return nil, errSASL2Malformed
			}
			r.configVersion = v
		case ch.name.Space == nsFAST && ch.name.Local == "fast":
			r.fast = true
			v, _ := ch.attrValue("invalidate")
			r.invalidate = v == "true" || v == "1"
			if v, ok := ch.attrValue("count"); ok {
				n, err := strconv.ParseUint(v, 10, 63)
				if err != nil {
					return nil, errSASL2Malformed
				}
				r.count = int64(n)
			}
		}
	}
	return r, nil
}

func parseUserAgent(el *element) (userAgent, error) {
	var ua userAgent
	ua.id, _ = el.attrValue("id")
	for _, ch := range el.children {
		if ch.name.Space != nsSASL2 {
			continue
		}
		switch ch.name.Local {
		case "software":
			ua.software = string(ch.text)
		case "device":
			ua.device = string(ch.text)
		}
	}
	if len(ua.id) > maxUserAgentID || len(ua.software) > maxUserAgentField || len(ua.device) > maxUserAgentField ||
		!utf8.ValidString(ua.id+ua.software+ua.device) {
		return userAgent{}, errSASL2Malformed
	}
	return ua, nil
}

// parseBind2 reads Bind2's <bind/>: the tag and the inline features asked for.
func parseBind2(el *element) (*bind2Request, error) {
	b := &bind2Request{}
	for _, g := range el.children {
		switch {
		case g.name.Space == nsBind2 && g.name.Local == "tag":
			b.tag = string(g.text)
		case g.name.Space == nsCarbons && g.name.Local == "enable":
			b.carbons = true
		case g.name.Space == nsSM && g.name.Local == "enable":
			v, _ := g.attrValue("resume")
			max, err := parseUint32Attr(g, "max", false)
			if err != nil {
				return nil, err
			}
			b.enableSM = &smEnable{resume: v == "true" || v == "1", max: max}
		}
	}
	if len(b.tag) > maxBindTag || !utf8.ValidString(b.tag) {
		return nil, errSASL2Malformed
	}
	return b, nil
}

// parseUint32Attr reads a counter attribute (XEP-0198 h, max); absent is 0
// unless required.
func parseUint32Attr(el *element, name string, required bool) (uint32, error) {
	v, ok := el.attrValue(name)
	if !ok {
		if required {
			return 0, errSASL2Malformed
		}
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0, errSASL2Malformed
	}
	return uint32(n), nil
}
