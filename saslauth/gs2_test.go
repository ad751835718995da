package saslauth

import (
	"errors"
	"testing"
)

func TestParseGS2Header(t *testing.T) {
	tests := []struct {
		in, authzid, rest string
		err               error
	}{
		{"n,,\x01", "", "\x01", nil},
		{"y,,\x01", "", "\x01", nil},
		{"n,a=alice@example.com,\x01", "alice@example.com", "\x01", nil},
		{"n,a=a=2Cb=3Dc@example.com,", "a,b=c@example.com", "", nil},
		{"n,a=a=2cb=3dc,", "a,b=c", "", nil}, // ABNF literals are case-insensitive
		{"n,a=ünï,x", "ünï", "x", nil},
		{"p=tls-unique,,\x01", "", "", errGS2ChannelBinding},
		{"p=tls-exporter,a=alice@example.com,\x01", "", "", errGS2ChannelBinding},
		{"p,,", "", "", errGS2Header},
		{"F,n,,\x01", "", "", errGS2Header},
		{"N,,", "", "", errGS2Header},
		{"n", "", "", errGS2Header},
		{"", "", "", errGS2Header},
		{"n,", "", "", errGS2Header},
		{"n;,", "", "", errGS2Header},
		{"n,x", "", "", errGS2Header},
		{"n,b=alice,", "", "", errGS2Header},
		{"n,a=alice", "", "", errGS2Header},
		{"n,a=,", "", "", errGS2Authzid},
		{"n,a=al=41ice,", "", "", errGS2Authzid},
		{"n,a=alice=,", "", "", errGS2Authzid},
		{"n,a=alice=2,", "", "", errGS2Authzid},
		{"n,a=al\x00ice,", "", "", errGS2Authzid},
		{"n,a=al\xffice,", "", "", errGS2Authzid},
	}
	for _, tt := range tests {
		authzid, rest, err := parseGS2Header([]byte(tt.in))
		if !errors.Is(err, tt.err) {
			t.Errorf("%q: err = %v, want %v", tt.in, err, tt.err)
			continue
		}
		if err == nil && (authzid != tt.authzid || string(rest) != tt.rest) {
			t.Errorf("%q: got (%q, %q), want (%q, %q)", tt.in, authzid, rest, tt.authzid, tt.rest)
		}
	}
}
