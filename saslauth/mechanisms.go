package saslauth

import "errors"

// Mechanism names as offered in <mechanisms/>.
const (
	MechPlain       = "PLAIN"
	MechOAuthBearer = "OAUTHBEARER"
)

// errNotOffered is the log-only cause of an invalid-mechanism failure.
var errNotOffered = errors.New("mechanism not offered")

// Mechanisms lists the offered mechanism names in preference order: OAUTHBEARER
// (no password crosses the proxy) before PLAIN.
func (c Config) Mechanisms() []string {
	var m []string
	if c.AllowOAuthBearer {
		m = append(m, MechOAuthBearer)
	}
	if c.AllowPlain {
		m = append(m, MechPlain)
	}
	return m
}

// Start begins an exchange for the mechanism the client chose. A name that is
// unknown or not offered yields a *Failure with Condition InvalidMechanism.
// Mechanism names are case-sensitive (RFC 4422 section 3.1: upper-case only).
func (c Config) Start(mechanism string) (Session, error) {
	switch {
	case mechanism == MechOAuthBearer && c.AllowOAuthBearer:
		return &oauthBearerSession{cfg: c}, nil
	case mechanism == MechPlain && c.AllowPlain:
		return &plainSession{cfg: c}, nil
	}
	return nil, &Failure{Condition: InvalidMechanism, Cause: errNotOffered}
}
