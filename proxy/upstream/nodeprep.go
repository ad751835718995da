package upstream

import (
	"errors"

	"github.com/xdg-go/stringprep"
)

// nodeprepProfile is RFC 3920 appendix A (Nodeprep), the stringprep profile that
// Prosody and ejabberd apply to the localpart of every JID they store. The proxy
// normalises with PRECIS (RFC 8265), which folds less (it keeps "ß" and final
// sigma; Nodeprep turns them into "ss" and "σ"), so two IdP users could otherwise
// reach one upstream account. Unassigned code points are refused, as for stored
// strings (RFC 3454 section 7), which is stricter than Prosody's default.
var nodeprepProfile = stringprep.Profile{
	Mappings:  []stringprep.Mapping{stringprep.TableB1, stringprep.TableB2},
	Normalize: true,
	Prohibits: []stringprep.Set{
		stringprep.TableA1,
		stringprep.TableC1_1, stringprep.TableC1_2,
		stringprep.TableC2_1, stringprep.TableC2_2,
		stringprep.TableC3, stringprep.TableC4, stringprep.TableC5, stringprep.TableC6,
		stringprep.TableC7, stringprep.TableC8, stringprep.TableC9,
		nodeprepExtra,
	},
	CheckBiDi: true,
}

// nodeprepExtra: the characters Nodeprep prohibits beyond the common tables
// (" & ' / : < > @), which would change a JID's meaning.
var nodeprepExtra = stringprep.Set{
	{0x22, 0x22}, {0x26, 0x27}, {0x2F, 0x2F}, {0x3A, 0x3A}, {0x3C, 0x3C}, {0x3E, 0x3E}, {0x40, 0x40},
}

// errNotCanonical: the username is valid for the proxy but the upstream would store
// it in another form; logging in would reach an account another IdP user may own.
var errNotCanonical = errors.New("username is not in the upstream server's canonical (nodeprep) form")

// canonicalLocalpart returns u if Nodeprep leaves it unchanged, the only case in
// which the proxy's user and the upstream's account are one and the same.
func canonicalLocalpart(u string) (string, error) {
	out, err := nodeprepProfile.Prepare(u)
	if err != nil || out != u || out == "" {
		return "", errNotCanonical
	}
	return out, nil
}
