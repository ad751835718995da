package saslauth

import (
	"bytes"
	"errors"
	"strings"
)

// OAUTHBEARER limits: a JWT with many claims fits easily in 64 KiB, and a client
// has no reason to send more than a handful of key/value pairs.
const (
	maxBearerMessage = 64 << 10
	maxBearerPairs   = 32
)

var (
	errBearerTooLong     = errors.New("OAUTHBEARER message too long")
	errBearerEmpty       = errors.New("empty OAUTHBEARER response")
	errBearerStrayKVSep  = errors.New("lone 0x01 where a client message was expected")
	errBearerFraming     = errors.New("OAUTHBEARER message framing broken")
	errBearerKey         = errors.New("malformed OAUTHBEARER key")
	errBearerValue       = errors.New("malformed OAUTHBEARER value")
	errBearerTooMany     = errors.New("too many OAUTHBEARER key/value pairs")
	errBearerDuplicate   = errors.New("duplicate OAUTHBEARER key")
	errBearerNoAuth      = errors.New("OAUTHBEARER message lacks auth")
	errBearerAuthScheme  = errors.New("OAUTHBEARER auth is not a Bearer credential")
	errBearerTokenSyntax = errors.New("bearer token is not a b64token")
)

const kvsep = 0x01

// bearerMessage is a parsed RFC 7628 initial client response.
type bearerMessage struct {
	authzid string
	// token is empty for the XEP-0493 discovery probe.
	token      string
	host, port string
}

// parseBearerMessage parses client-resp = gs2-header kvsep *kvpair kvsep
// (RFC 7628 section 3.1). Unknown keys are skipped; known keys may appear once.
// Errors name the rule broken, never the content, so they can be logged.
func parseBearerMessage(msg []byte) (bearerMessage, error) {
	var m bearerMessage
	switch {
	case len(msg) == 0:
		return m, errBearerEmpty
	case len(msg) > maxBearerMessage:
		return m, errBearerTooLong
	case len(msg) == 1 && msg[0] == kvsep:
		return m, errBearerStrayKVSep
	}
	authzid, rest, err := parseGS2Header(msg)
	if err != nil {
		return m, err
	}
	m.authzid = authzid
	if len(rest) == 0 || rest[0] != kvsep {
		return m, errBearerFraming
	}
	rest = rest[1:]
	var auth *string
	seen := map[string]bool{}
	for n := 0; ; n++ {
		if len(rest) == 0 {
			return m, errBearerFraming // no terminating kvsep
		}
		if rest[0] == kvsep {
			if len(rest) != 1 {
				return m, errBearerFraming // bytes after the end
			}
			break
		}
		if n == maxBearerPairs {
			return m, errBearerTooMany
		}
		var key, value string
		key, value, rest, err = parseKVPair(rest)
		if err != nil {
			return m, err
		}
		switch key {
		case "auth", "host", "port":
			if seen[key] {
				return m, errBearerDuplicate
			}
			seen[key] = true
		}
		switch key {
		case "auth":
			auth = &value
		case "host":
			m.host = value
		case "port":
			m.port = value
		}
	}
	if auth == nil {
		return m, errBearerNoAuth
	}
	m.token, err = parseBearerCredential(*auth)
	return m, err
}

// parseKVPair reads kvpair = key "=" value kvsep, key = 1*(ALPHA),
// value = *(VCHAR / SP / HTAB / CR / LF).
func parseKVPair(b []byte) (key, value string, rest []byte, err error) {
	i := 0
	for i < len(b) && isAlpha(b[i]) {
		i++
	}
	if i == 0 || i == len(b) || b[i] != '=' {
		return "", "", nil, errBearerKey
	}
	key = string(b[:i])
	b = b[i+1:]
	end := bytes.IndexByte(b, kvsep)
	if end < 0 {
		return "", "", nil, errBearerFraming
	}
	for _, c := range b[:end] {
		if !isValueChar(c) {
			return "", "", nil, errBearerValue
		}
	}
	return key, string(b[:end]), b[end+1:], nil
}

// parseBearerCredential reads auth-value = "Bearer" 1*SP b64token (RFC 6750
// section 2.1; the scheme is case-insensitive). An empty value, or the scheme
// with no token, is the XEP-0493 probe and yields "".
func parseBearerCredential(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	const scheme = "bearer"
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", errBearerAuthScheme
	}
	v = v[len(scheme):]
	if v == "" {
		return "", nil
	}
	if v[0] != ' ' {
		return "", errBearerAuthScheme
	}
	tok := strings.TrimLeft(v, " ")
	if tok == "" {
		return "", nil
	}
	if !isB64Token(tok) {
		return "", errBearerTokenSyntax
	}
	return tok, nil
}

// isB64Token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	i := 0
	for i < len(s) && (isAlpha(s[i]) || s[i] >= '0' && s[i] <= '9' || strings.IndexByte("-._~+/", s[i]) >= 0) {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(s) && s[i] == '=' {
		i++
	}
	return i == len(s)
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isValueChar(c byte) bool {
	return c >= 0x21 && c <= 0x7e || c == ' ' || c == '\t' || c == '\r' || c == '\n'
}
