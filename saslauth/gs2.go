package saslauth

import (
	"bytes"
	"errors"
	"unicode/utf8"
)

var (
	errGS2Header         = errors.New("malformed gs2 header")
	errGS2ChannelBinding = errors.New("channel binding requested (p=), not supported for OAUTHBEARER")
	errGS2Authzid        = errors.New("malformed gs2 authzid")
)

// parseGS2Header reads an RFC 5801 gs2-header from the start of msg as RFC 7628
// uses it: gs2-cb-flag "," [ "a=" saslname ] ",". It returns the unescaped authzid
// and the bytes after the header.
//
// "n" (client does not support channel binding) and "y" (client does, but thinks
// the server does not) are accepted: we offer no -PLUS variant, so "y" is no sign
// of a downgrade. "p=" asks for channel binding, which OAUTHBEARER does not have
// (RFC 7628 section 3.1); RFC 5801 section 5 has the server fail then, and we
// answer malformed-request. The non-standard GSS flag "F," has no meaning for
// OAUTHBEARER and is rejected too.
func parseGS2Header(msg []byte) (authzid string, rest []byte, err error) {
	if len(msg) < 2 {
		return "", nil, errGS2Header
	}
	switch msg[0] {
	case 'n', 'y':
		if msg[1] != ',' {
			return "", nil, errGS2Header
		}
	case 'p':
		if msg[1] == '=' {
			return "", nil, errGS2ChannelBinding
		}
		return "", nil, errGS2Header
	default:
		return "", nil, errGS2Header
	}
	msg = msg[2:]
	if bytes.HasPrefix(msg, []byte("a=")) {
		end := bytes.IndexByte(msg, ',')
		if end < 0 {
			return "", nil, errGS2Header
		}
		authzid, err = unescapeSASLName(msg[2:end])
		if err != nil {
			return "", nil, err
		}
		msg = msg[end:]
	}
	if len(msg) == 0 || msg[0] != ',' {
		return "", nil, errGS2Header
	}
	return authzid, msg[1:], nil
}

// unescapeSASLName decodes saslname = 1*(UTF8-char-safe / "=2C" / "=3D")
// (RFC 5801 section 4). ABNF literals are case-insensitive, so "=2c" counts too;
// any other "=" sequence, NUL or invalid UTF-8 is an error.
func unescapeSASLName(b []byte) (string, error) {
	if len(b) == 0 || !utf8.Valid(b) {
		return "", errGS2Authzid
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case 0:
			return "", errGS2Authzid
		case '=':
			if i+2 >= len(b) {
				return "", errGS2Authzid
			}
			switch {
			case b[i+1] == '2' && (b[i+2] == 'C' || b[i+2] == 'c'):
				out = append(out, ',')
			case b[i+1] == '3' && (b[i+2] == 'D' || b[i+2] == 'd'):
				out = append(out, '=')
			default:
				return "", errGS2Authzid
			}
			i += 2
		default:
			out = append(out, c)
		}
	}
	return string(out), nil
}
