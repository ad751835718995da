package saslauth

import "errors"

// Mechanism names as offered in <mechanisms/>.
const (
	MechPlain       = "PLAIN"
	MechOAuthBearer = "OAUTHBEARER"
)

// errNotOffered is the log-only cause of an invalid-mechanism failure.
var errNotOffered = errors.New("mechanism not offered")

// Mechanisms lists the offered mechanism names in preference order: those
// where no password crosses the proxy (SCRAM, OAUTHBEARER) before PLAIN. The
// transport drops SCRAM-SHA-256-PLUS where it has no channel binding.
func (c Config) Mechanisms() []string {
	var m []string
	if c.SCRAM != nil {
		m = append(m, MechSCRAMSHA256Plus, MechSCRAMSHA256)
	}
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
	case (mechanism == MechSCRAMSHA256 || mechanism == MechSCRAMSHA256Plus) && c.SCRAM != nil:
		return c.startSCRAM(mechanism), nil
	}
	return nil, &Failure{Condition: InvalidMechanism, Cause: errNotOffered}
}
