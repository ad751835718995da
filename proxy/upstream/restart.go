package upstream

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// Restarted is an upstream session past the post-login stream restart: what a
// SASL2 client, which never restarts its stream, gets relayed from here on.
type Restarted struct {
	Session *Session
	// JID is the full JID the upstream bound, or "" when no resource was asked for.
	JID string
	// Features are the upstream's post-login stream features, each element
	// re-serialised with its namespace; bind and session are left out once
	// bound or resumed, stream management once enabled or resumed.
	Features [][]byte
	// SM is what became of the stream management the request asked for.
	SM SMOutcome
}

// RestartRequest says what to do on the restarted stream, in the order done.
type RestartRequest struct {
	Domain string
	// Resume, when set, resumes an earlier XEP-0198 session first; the rest
	// is done only when that fails.
	Resume *SMResume
	// Resource, when not empty, is bound (RFC 6120 section 7).
	Resource string
	// Carbons enables XEP-0280 carbons after binding.
	Carbons bool
	// EnableSM enables XEP-0198 (with resumption if asked) after binding, so
	// that nothing the proxy sent counts in either side's counters.
	EnableSM *SMEnable
}

// maxFeatures bounds the post-login features taken from the upstream.
const maxFeatures = 32

// Restart opens the post-authentication stream on s for domain, as a client
// would after <success/>, and binds resource if it is not empty (RFC 6120
// section 7). It runs under ctx's deadline; on error s.Conn is closed. Nothing
// the upstream sends is dropped: bytes past the bind result come back in the
// new Session's Buffered. The bind happens before any stream management is
// enabled, so it counts in no XEP-0198 counter.
func Restart(ctx context.Context, s *Session, req RestartRequest) (*Restarted, error) {
	r, err := restart(ctx, s, req)
	if err != nil {
		_ = s.Conn.Close()
		return nil, err
	}
	return r, nil
}

func restart(ctx context.Context, s *Session, req RestartRequest) (*Restarted, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = s.Conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = s.Conn.SetDeadline(time.Unix(1, 0)) })
	first := []byte(streamHeader(req.Domain))
	// With nothing to resume, the bind (and carbons) ride with the header: the
	// server reads them once the stream is open, in order, and the login saves
	// a round trip. Should it offer no binding, the login fails either way.
	var sent *bindRequests
	if req.Resume == nil && req.Resource != "" {
		r := newBindRequests(req.Resource, req.Carbons)
		first, sent = append(first, r.wire...), &r
	}
	if _, err := s.Conn.Write(first); err != nil {
		stop()
		return nil, fmt.Errorf("%w: restart: %w", ErrUnavailable, err)
	}
	pre := bytes.NewReader(s.Buffered)
	x := newXMLReader(io.MultiReader(pre, s.Conn))
	out, err := readRestart(x, s.Conn, req, sent)
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

// readRestart reads the restarted stream's features and does what req asks;
// sent is the bind already sent with the stream header, if any.
func readRestart(x *xmlReader, w io.Writer, req RestartRequest, sent *bindRequests) (*Restarted, error) {
	var f struct {
		Items []rawFeature `xml:",any"`
	}
	if err := decodeFeatures(x, &f); err != nil {
		return nil, err
	}
	if len(f.Items) > maxFeatures {
		return nil, errors.New("too many stream features")
	}
	has := func(space, local string) bool {
		return slices.ContainsFunc(f.Items, func(it rawFeature) bool { return it.XMLName == xml.Name{Space: space, Local: local} })
	}
	out := &Restarted{}
	var err error
	if req.Resume != nil {
		if out.SM, err = resume(x, w, *req.Resume, has(nsSM, "sm")); err != nil {
			return nil, err
		}
	}
	resumed := out.SM.Resumed != nil
	if req.Resource != "" && !resumed {
		if !has(nsBind, "bind") {
			return nil, errors.New("upstream offers no resource binding")
		}
		// Bind, carbons and the SM enable go out before any answer is read:
		// the server handles them in order, so the bind still precedes stream
		// management and counts in neither side's counters.
		var batch []byte
		if sent == nil {
			r := newBindRequests(req.Resource, req.Carbons)
			sent, batch = &r, r.wire
		}
		smOffered := has(nsSM, "sm")
		if req.EnableSM != nil && smOffered {
			batch = append(batch, smEnableRequest(*req.EnableSM)...)
		}
		if len(batch) > 0 {
			if _, err := w.Write(batch); err != nil {
				return nil, err
			}
		}
		if out.JID, err = sent.readBound(x); err != nil {
			return nil, err
		}
		switch {
		case req.EnableSM == nil:
		case !smOffered:
			out.SM.EnableFailed = &SMFailed{Condition: "feature-not-implemented"}
		default:
			if err := readEnabled(x, &out.SM); err != nil {
				return nil, err
			}
		}
	}
	for _, it := range f.Items {
		switch {
		case (out.JID != "" || resumed) && (it.XMLName == xml.Name{Space: nsBind, Local: "bind"} || it.XMLName == xml.Name{Space: nsSession, Local: "session"}):
		case (out.SM.Enabled != nil || resumed) && it.XMLName.Space == nsSM:
		default:
			out.Features = append(out.Features, it.marshal())
		}
	}
	return out, nil
}

const nsSession = "urn:ietf:params:xml:ns:xmpp-session"

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
