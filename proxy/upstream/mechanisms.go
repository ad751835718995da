package upstream

import (
	"errors"

	"github.com/xdg-go/scram"
)

// scramMech is SCRAM-SHA-1/256 (RFC 5802, RFC 7677) without channel binding.
type scramMech struct {
	mech string
	conv *scram.ClientConversation
}

func (s *scramMech) name() string           { return s.mech }
func (s *scramMech) start() ([]byte, error) { r, err := s.conv.Step(""); return []byte(r), err }

func (s *scramMech) step(c []byte) ([]byte, error) {
	if s.conv.Done() {
		return nil, errors.New("challenge after the server's final message")
	}
	r, err := s.conv.Step(string(c))
	return []byte(r), err
}

// finish verifies the server signature: the upstream proves it knows the secret,
// whether it sent it as success data or as a last challenge.
func (s *scramMech) finish(data []byte) error {
	if !s.conv.Done() {
		if len(data) == 0 {
			return errors.New("success without server signature")
		}
		if _, err := s.conv.Step(string(data)); err != nil {
			return err
		}
	}
	if !s.conv.Valid() {
		return errors.New("server signature not verified")
	}
	return nil
}

// plainMech is RFC 4616 PLAIN without authzid.
type plainMech struct{ user, password string }

func (p *plainMech) name() string { return "PLAIN" }
func (p *plainMech) start() ([]byte, error) {
	return []byte("\x00" + p.user + "\x00" + p.password), nil
}
func (p *plainMech) step([]byte) ([]byte, error) { return nil, errors.New("unexpected challenge") }
func (p *plainMech) finish([]byte) error         { return nil }

// oauthBearerMech is RFC 7628 OAUTHBEARER with the authzid set to the user's JID.
type oauthBearerMech struct {
	jid, token string
	failed     bool
}

func (o *oauthBearerMech) name() string { return "OAUTHBEARER" }
func (o *oauthBearerMech) start() ([]byte, error) {
	return []byte("n,a=" + saslName(o.jid) + ",\x01auth=Bearer " + o.token + "\x01\x01"), nil
}

// step answers the error challenge (JSON status) with the single %x01 RFC 7628
// 3.2.3 asks for; the server then sends <failure/>.
func (o *oauthBearerMech) step([]byte) ([]byte, error) {
	if o.failed {
		return nil, errors.New("second challenge")
	}
	o.failed = true
	return []byte{0x01}, nil
}

func (o *oauthBearerMech) finish([]byte) error {
	if o.failed {
		return errors.New("success after an error challenge")
	}
	return nil
}

// saslName escapes ',' and '=' in a GS2 authzid (RFC 5801 saslname).
func saslName(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',':
			out = append(out, "=2C"...)
		case '=':
			out = append(out, "=3D"...)
		default:
			out = append(out, s[i])
		}
	}
	return string(out)
}
