package upstream

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"time"
)

// Restarted is an upstream session past the post-login stream restart: what a
// SASL2 client, which never restarts its stream, gets relayed from here on.
type Restarted struct {
	Session *Session
	// JID is the full JID the upstream bound, or "" when no resource was asked for.
	JID string
	// Features are the upstream's post-login stream features, each element
	// re-serialised with its namespace; bind and session are left out once bound.
	Features [][]byte
}

// maxFeatures bounds the post-login features taken from the upstream.
const maxFeatures = 32

// Restart opens the post-authentication stream on s for domain, as a client
// would after <success/>, and binds resource if it is not empty (RFC 6120
// section 7). It runs under ctx's deadline; on error s.Conn is closed. Nothing
// the upstream sends is dropped: bytes past the bind result come back in the
// new Session's Buffered. The bind happens before any stream management is
// enabled, so it counts in no XEP-0198 counter.
func Restart(ctx context.Context, s *Session, domain, resource string) (*Restarted, error) {
	r, err := restart(ctx, s, domain, resource)
	if err != nil {
		_ = s.Conn.Close()
		return nil, err
	}
	return r, nil
}

func restart(ctx context.Context, s *Session, domain, resource string) (*Restarted, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = s.Conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = s.Conn.SetDeadline(time.Unix(1, 0)) })
	if _, err := s.Conn.Write([]byte(streamHeader(domain))); err != nil {
		stop()
		return nil, fmt.Errorf("%w: restart: %w", ErrUnavailable, err)
	}
	pre := bytes.NewReader(s.Buffered)
	x := newXMLReader(io.MultiReader(pre, s.Conn))
	out, err := readRestart(x, s.Conn, resource)
	if !stop() {
		return nil, fmt.Errorf("%w: restart cancelled", ErrUnavailable)
	}
	if err != nil {
		if errors.Is(err, ErrRejected) || errors.Is(err, ErrUnavailable) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: restart: %w", ErrUnavailable, err)
	}
	left, err := x.leftover()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	rest, _ := io.ReadAll(pre) // a bytes.Reader: never blocks, never fails
	if err := s.Conn.SetDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	out.Session = &Session{Conn: s.Conn, Buffered: append(left, rest...)}
	return out, nil
}

// rawFeature is one child of <stream:features/>, kept to be sent on.
type rawFeature struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Inner   []byte     `xml:",innerxml"`
}

func readRestart(x *xmlReader, w io.Writer, resource string) (*Restarted, error) {
	var f struct {
		Items []rawFeature `xml:",any"`
	}
	if err := decodeFeatures(x, &f); err != nil {
		return nil, err
	}
	if len(f.Items) > maxFeatures {
		return nil, errors.New("too many stream features")
	}
	out := &Restarted{}
	var err error
	hasBind := false
	for _, it := range f.Items {
		if it.XMLName.Space == nsBind && it.XMLName.Local == "bind" {
			hasBind = true
		}
	}
	if resource != "" {
		if !hasBind {
			return nil, errors.New("upstream offers no resource binding")
		}
		if out.JID, err = bind(x, w, resource); err != nil {
			return nil, err
		}
	}
	for _, it := range f.Items {
		if out.JID != "" && (it.XMLName.Space == nsBind && it.XMLName.Local == "bind" ||
			it.XMLName.Space == nsSession && it.XMLName.Local == "session") {
			continue
		}
		out.Features = append(out.Features, it.marshal())
	}
	return out, nil
}

const nsSession = "urn:ietf:params:xml:ns:xmpp-session"

// bind asks for resource and returns the full JID the upstream bound.
func bind(x *xmlReader, w io.Writer, resource string) (string, error) {
	var idb [6]byte
	_, _ = rand.Read(idb[:])
	id := "bind-" + hex.EncodeToString(idb[:])
	var b bytes.Buffer
	b.WriteString("<iq type='set' id='" + id + "'><bind xmlns='" + nsBind + "'><resource>")
	_ = xml.EscapeText(&b, []byte(resource))
	b.WriteString("</resource></bind></iq>")
	if _, err := w.Write(b.Bytes()); err != nil {
		return "", err
	}
	se, err := x.next()
	if err != nil {
		return "", err
	}
	if se.Name.Space != nsClient || se.Name.Local != "iq" {
		return "", fmt.Errorf("expected the bind result, got <%s>", se.Name.Local)
	}
	var iq struct {
		ID    string `xml:"id,attr"`
		Type  string `xml:"type,attr"`
		JID   string `xml:"urn:ietf:params:xml:ns:xmpp-bind bind>jid"`
		Error struct {
			Inner []struct{ XMLName xml.Name } `xml:",any"`
		} `xml:"error"`
	}
	if err := x.decode(&iq, se); err != nil {
		return "", err
	}
	switch {
	case iq.ID != id:
		return "", errors.New("bind result with another id")
	case iq.Type == "error":
		cond := "undefined-condition"
		if len(iq.Error.Inner) > 0 {
			cond = iq.Error.Inner[0].XMLName.Local
		}
		return "", fmt.Errorf("%w: bind refused: %s", ErrRejected, cond)
	case iq.Type != "result" || iq.JID == "":
		return "", errors.New("bind result without a JID")
	}
	return iq.JID, nil
}

// marshal writes the feature back as one element with its namespace declared
// on itself, so it reads the same inside another stream.
func (f rawFeature) marshal() []byte {
	var b bytes.Buffer
	b.WriteString("<" + f.XMLName.Local)
	if f.XMLName.Space != "" {
		writeAttr(&b, "xmlns", f.XMLName.Space)
	}
	for _, a := range f.Attrs {
		switch {
		case a.Name.Space == "" && a.Name.Local == "xmlns":
		case a.Name.Space == "xmlns":
			writeAttr(&b, "xmlns:"+a.Name.Local, a.Value)
		case a.Name.Space == "":
			writeAttr(&b, a.Name.Local, a.Value)
		}
	}
	if len(f.Inner) == 0 {
		b.WriteString("/>")
		return b.Bytes()
	}
	b.WriteString(">")
	b.Write(f.Inner)
	b.WriteString("</" + f.XMLName.Local + ">")
	return b.Bytes()
}

func writeAttr(b *bytes.Buffer, name, value string) {
	b.WriteString(" " + name + "='")
	_ = xml.EscapeText(b, []byte(value))
	b.WriteString("'")
}
