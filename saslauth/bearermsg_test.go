package saslauth

import (
	"errors"
	"strings"
	"testing"
)

func TestParseBearerMessage(t *testing.T) {
	pairs := func(n int) string { return strings.Repeat("x=y\x01", n) }
	ok := []struct {
		name, in string
		want     bearerMessage
	}{
		{"minimal", "n,,\x01auth=Bearer abc\x01\x01", bearerMessage{token: "abc"}},
		{"RFC 7628 example", "n,a=user@example.com,\x01host=server.example.com\x01port=5222\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01",
			bearerMessage{authzid: "user@example.com", token: "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", host: "server.example.com", port: "5222"}},
		{"y flag", "y,,\x01auth=Bearer abc\x01\x01", bearerMessage{token: "abc"}},
		{"scheme lower case", "n,,\x01auth=bearer abc\x01\x01", bearerMessage{token: "abc"}},
		{"scheme upper case", "n,,\x01auth=BEARER abc\x01\x01", bearerMessage{token: "abc"}},
		{"several spaces", "n,,\x01auth=Bearer    abc\x01\x01", bearerMessage{token: "abc"}},
		{"JWT characters", "n,,\x01auth=Bearer eyJ.a-b_c~d+e/f==\x01\x01", bearerMessage{token: "eyJ.a-b_c~d+e/f=="}},
		{"unknown keys ignored", "n,,\x01mfa=otp 123\x01auth=Bearer abc\x01mfa=again\x01\x01", bearerMessage{token: "abc"}},
		{"value characters", "n,,\x01x=a b\tc\r\nd~\x01auth=Bearer abc\x01\x01", bearerMessage{token: "abc"}},
		{"empty value", "n,,\x01host=\x01auth=Bearer abc\x01\x01", bearerMessage{token: "abc"}},
		{"probe: empty auth", "n,,\x01auth=\x01\x01", bearerMessage{}},
		{"probe: scheme only", "n,,\x01auth=Bearer\x01\x01", bearerMessage{}},
		{"probe: scheme and space", "n,,\x01auth=Bearer \x01\x01", bearerMessage{}},
		{"probe: scheme and spaces", "n,,\x01auth=bearer   \x01\x01", bearerMessage{}},
		{"32 pairs", "n,,\x01" + pairs(31) + "auth=Bearer abc\x01\x01", bearerMessage{token: "abc"}},
		{"64 KiB", "n,,\x01auth=Bearer " + strings.Repeat("t", maxBearerMessage-18) + "\x01\x01",
			bearerMessage{token: strings.Repeat("t", maxBearerMessage-18)}},
	}
	for _, tt := range ok {
		got, err := parseBearerMessage([]byte(tt.in))
		if err != nil || got != tt.want {
			t.Errorf("%s: got %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
	bad := []struct {
		name, in string
		err      error
	}{
		{"empty", "", errBearerEmpty},
		{"lone kvsep", "\x01", errBearerStrayKVSep},
		{"too long", "n,,\x01auth=Bearer " + strings.Repeat("t", maxBearerMessage-17) + "\x01\x01", errBearerTooLong},
		{"33 pairs", "n,,\x01" + pairs(32) + "auth=Bearer abc\x01\x01", errBearerTooMany},
		{"channel binding", "p=tls-unique,,\x01auth=Bearer abc\x01\x01", errGS2ChannelBinding},
		{"bad header", "x,,\x01auth=Bearer abc\x01\x01", errGS2Header},
		{"bad authzid escape", "n,a=a=40b,\x01auth=Bearer abc\x01\x01", errGS2Authzid},
		{"no kvsep after header", "n,,auth=Bearer abc\x01\x01", errBearerFraming},
		{"header only", "n,,", errBearerFraming},
		{"no terminator", "n,,\x01auth=Bearer abc\x01", errBearerFraming},
		{"unterminated value", "n,,\x01auth=Bearer abc", errBearerFraming},
		{"bytes after end", "n,,\x01auth=Bearer abc\x01\x01x", errBearerFraming},
		{"key with digit", "n,,\x01auth2=x\x01auth=Bearer abc\x01\x01", errBearerKey},
		{"empty key", "n,,\x01=x\x01auth=Bearer abc\x01\x01", errBearerKey},
		{"key without =", "n,,\x01auth\x01\x01", errBearerKey},
		{"key at end", "n,,\x01auth", errBearerKey},
		{"NUL in value", "n,,\x01x=a\x00b\x01auth=Bearer abc\x01\x01", errBearerValue},
		{"DEL in value", "n,,\x01x=a\x7fb\x01auth=Bearer abc\x01\x01", errBearerValue},
		{"UTF-8 in value", "n,,\x01host=ü.example\x01auth=Bearer abc\x01\x01", errBearerValue},
		{"duplicate auth", "n,,\x01auth=Bearer abc\x01auth=Bearer abc\x01\x01", errBearerDuplicate},
		{"duplicate host", "n,,\x01host=a\x01host=b\x01auth=Bearer abc\x01\x01", errBearerDuplicate},
		{"no auth", "n,,\x01host=a\x01\x01", errBearerNoAuth},
		{"no pairs", "n,,\x01\x01", errBearerNoAuth},
		{"other scheme", "n,,\x01auth=Basic abc\x01\x01", errBearerAuthScheme},
		{"short scheme", "n,,\x01auth=Bear\x01\x01", errBearerAuthScheme},
		{"no space after scheme", "n,,\x01auth=Bearerabc\x01\x01", errBearerAuthScheme},
		{"tab after scheme", "n,,\x01auth=Bearer\tabc\x01\x01", errBearerAuthScheme},
		{"bad token character", "n,,\x01auth=Bearer ab!c\x01\x01", errBearerTokenSyntax},
		{"trailing space", "n,,\x01auth=Bearer abc \x01\x01", errBearerTokenSyntax},
		{"two tokens", "n,,\x01auth=Bearer abc def\x01\x01", errBearerTokenSyntax},
		{"padding only", "n,,\x01auth=Bearer ==\x01\x01", errBearerTokenSyntax},
		{"padding inside", "n,,\x01auth=Bearer a=b\x01\x01", errBearerTokenSyntax},
	}
	for _, tt := range bad {
		if _, err := parseBearerMessage([]byte(tt.in)); !errors.Is(err, tt.err) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.err)
		}
	}
}
