package upstream

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// What the proxy does on the user's behalf after a restart, before anything
// is relayed: RFC 6120 resource binding and XEP-0280 carbons.

const nsCarbons = "urn:xmpp:carbons:2"

// bind asks for resource and returns the full JID the upstream bound.
func bind(x *xmlReader, w io.Writer, resource string) (string, error) {
	var b bytes.Buffer
	b.WriteString("<bind xmlns='" + nsBind + "'><resource>")
	_ = xml.EscapeText(&b, []byte(resource))
	b.WriteString("</resource></bind>")
	res, err := setIQ(x, w, b.String())
	if err != nil {
		return "", fmt.Errorf("bind: %w", err)
	}
	if res.JID == "" {
		return "", errors.New("bind result without a JID")
	}
	return res.JID, nil
}

// enableCarbons turns XEP-0280 carbons on for the bound resource.
func enableCarbons(x *xmlReader, w io.Writer) error {
	if _, err := setIQ(x, w, "<enable xmlns='"+nsCarbons+"'/>"); err != nil {
		return fmt.Errorf("carbons: %w", err)
	}
	return nil
}

// iqResult is the part of an answer to setIQ that callers read.
type iqResult struct {
	ID    string `xml:"id,attr"`
	Type  string `xml:"type,attr"`
	JID   string `xml:"urn:ietf:params:xml:ns:xmpp-bind bind>jid"`
	Error struct {
		Inner []struct{ XMLName xml.Name } `xml:",any"`
	} `xml:"error"`
}

// setIQ sends an iq of type set with payload and reads its answer, which must
// be the next element: before binding (and before stream management) the
// server sends nothing else.
func setIQ(x *xmlReader, w io.Writer, payload string) (iqResult, error) {
	var idb [6]byte
	_, _ = rand.Read(idb[:])
	id := "proxy-" + hex.EncodeToString(idb[:])
	if _, err := io.WriteString(w, "<iq type='set' id='"+id+"'>"+payload+"</iq>"); err != nil {
		return iqResult{}, err
	}
	se, err := x.next()
	if err != nil {
		return iqResult{}, err
	}
	if se.Name.Space != nsClient || se.Name.Local != "iq" {
		return iqResult{}, fmt.Errorf("expected the iq result, got <%s>", se.Name.Local)
	}
	var iq iqResult
	if err := x.decode(&iq, se); err != nil {
		return iqResult{}, err
	}
	switch {
	case iq.ID != id:
		return iqResult{}, errors.New("iq result with another id")
	case iq.Type == "error":
		cond := "undefined-condition"
		if len(iq.Error.Inner) > 0 {
			cond = iq.Error.Inner[0].XMLName.Local
		}
		return iqResult{}, fmt.Errorf("%w: refused: %s", ErrRejected, cond)
	case iq.Type != "result":
		return iqResult{}, fmt.Errorf("iq answer of type %q", iq.Type)
	}
	return iq, nil
}
