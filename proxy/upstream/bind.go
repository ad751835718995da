package upstream

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
)

// What the proxy does on the user's behalf after a restart, before anything
// is relayed: RFC 6120 resource binding and XEP-0280 carbons.

const nsCarbons = "urn:xmpp:carbons:2"

// bindRequests are the bind request for resource and, with carbons, the
// XEP-0280 enable after it: sent together, answered in order (readBound).
type bindRequests struct {
	wire              []byte
	bindID, carbonsID string // carbonsID: "" without carbons
}

func newBindRequests(resource string, carbons bool) bindRequests {
	var b bytes.Buffer
	b.WriteString("<bind xmlns='" + nsBind + "'><resource>")
	_ = xml.EscapeText(&b, []byte(resource))
	b.WriteString("</resource></bind>")
	var r bindRequests
	r.bindID, r.wire = setIQRequest(nil, b.String())
	if carbons {
		r.carbonsID, r.wire = setIQRequest(r.wire, "<enable xmlns='"+nsCarbons+"'/>")
	}
	return r
}

// readBound reads the answers to r and returns the full JID the upstream bound.
func (r bindRequests) readBound(x *xmlReader) (string, error) {
	res, err := readIQ(x, r.bindID)
	if err != nil {
		return "", fmt.Errorf("bind: %w", err)
	}
	if res.JID == "" {
		return "", errors.New("bind result without a JID")
	}
	if r.carbonsID != "" {
		if _, err := readIQ(x, r.carbonsID); err != nil {
			return "", fmt.Errorf("carbons: %w", err)
		}
	}
	return res.JID, nil
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

// setIQRequest appends an iq of type set with payload to b; it returns its id.
func setIQRequest(b []byte, payload string) (string, []byte) {
	var idb [6]byte
	_, _ = rand.Read(idb[:])
	id := "proxy-" + hex.EncodeToString(idb[:])
	return id, append(b, "<iq type='set' id='"+id+"'>"+payload+"</iq>"...)
}

// readIQ reads the answer to the iq id, which must be the next element: before
// binding (and before stream management) the server sends nothing else.
func readIQ(x *xmlReader, id string) (iqResult, error) {
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
