package upstream

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
)

// errNotAuthorized: the upstream refused the credentials (<not-authorized/> or
// <credentials-expired/>). A managed login provisions the account and tries again.
var errNotAuthorized = errors.New("upstream refused the credentials")

const maxSASLSteps = 8

// saslFailure is a SASL <failure/> the upstream sent; Condition is its element name.
type saslFailure struct{ Condition string }

func (e *saslFailure) Error() string { return "upstream SASL failure: " + e.Condition }

// saslElement is <challenge/>, <success/> or <failure/>.
type saslElement struct {
	Text  string `xml:",chardata"`
	Inner []struct {
		XMLName xml.Name
	} `xml:",any"`
}

// mechanism drives one SASL mechanism on the client side.
type mechanism interface {
	name() string
	start() ([]byte, error)
	// step answers a challenge.
	step(challenge []byte) ([]byte, error)
	// finish checks the additional data of <success/> (server signature).
	finish(data []byte) error
}

// authenticate runs mech on w up to <success/>. Errors wrap ErrRejected (with
// errNotAuthorized when the credentials were refused) or ErrUnavailable.
func authenticate(w *wire, m mechanism) error {
	initial, err := m.start()
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, m.name(), err)
	}
	if err := w.write("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='" + m.name() + "'>" + b64(initial) + "</auth>"); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	for range maxSASLSteps {
		se, err := w.r.next()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if se.Name.Space != nsSASL {
			return fmt.Errorf("%w: unexpected <%s> during SASL", ErrUnavailable, se.Name.Local)
		}
		var el saslElement
		if err := w.r.decode(&el, se); err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		switch se.Name.Local {
		case "challenge":
			data, err := unb64(el.Text)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			resp, err := m.step(data)
			if err != nil {
				return fmt.Errorf("%w: %s: %w", ErrUnavailable, m.name(), err)
			}
			if err := w.write("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + b64(resp) + "</response>"); err != nil {
				return fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
		case "success":
			data, err := unb64(el.Text)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			if err := m.finish(data); err != nil {
				return fmt.Errorf("%w: %s: %w", ErrUnavailable, m.name(), err)
			}
			return nil
		case "failure":
			return failureError(el)
		default:
			return fmt.Errorf("%w: unexpected <%s> during SASL", ErrUnavailable, se.Name.Local)
		}
	}
	return fmt.Errorf("%w: too many SASL steps", ErrUnavailable)
}

// failureError classifies a SASL failure for the caller.
func failureError(el saslElement) error {
	cond := "undefined-condition"
	for _, c := range el.Inner {
		if c.XMLName.Local != "text" {
			cond = c.XMLName.Local
			break
		}
	}
	f := &saslFailure{Condition: cond}
	switch cond {
	case "not-authorized", "credentials-expired":
		return fmt.Errorf("%w: %w: %w", ErrRejected, errNotAuthorized, f)
	case "account-disabled", "invalid-authzid":
		return fmt.Errorf("%w: %w", ErrRejected, f)
	default: // temporary-auth-failure, and conditions that mean we or the upstream are misconfigured
		return fmt.Errorf("%w: %w", ErrUnavailable, f)
	}
}

// b64 encodes SASL data; "=" is the empty response (RFC 6120 6.4.2).
func b64(b []byte) string {
	if len(b) == 0 {
		return "="
	}
	return base64.StdEncoding.EncodeToString(b)
}

func unb64(s string) ([]byte, error) {
	if s == "" || s == "=" {
		return nil, nil
	}
	return base64.StdEncoding.DecodeString(s)
}

// passwordMechanism picks the strongest mechanism offered for a password login:
// SCRAM-SHA-256, SCRAM-SHA-1, then PLAIN where the password cannot be sniffed.
func passwordMechanism(offered []string, secure bool) (string, error) {
	for _, m := range []string{"SCRAM-SHA-256", "SCRAM-SHA-1"} {
		if slices.Contains(offered, m) {
			return m, nil
		}
	}
	if secure && slices.Contains(offered, "PLAIN") {
		return "PLAIN", nil
	}
	return "", fmt.Errorf("%w: no usable SASL mechanism offered", ErrUnavailable)
}
