package upstream

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
)

// XEP-0198 stream management asked for inline (SASL2 resume, Bind2 enable),
// done upstream the legacy way. The proxy never sends a stanza after enabling,
// so both ends' counters stay the ones of the client and the server.

const nsSM = "urn:xmpp:sm:3"

// SMResume is a client's <resume/>: what it handled, and the session.
type SMResume struct {
	H      uint32
	PrevID string
}

// SMEnable is a client's <enable/>.
type SMEnable struct {
	Resume bool
	Max    uint32 // 0: not asked
}

// SMOutcome is the upstream's answer; at most one of each pair is set.
type SMOutcome struct {
	Resumed      *SMResumed
	ResumeFailed *SMFailed
	Enabled      *SMEnabled
	EnableFailed *SMFailed
}

// SMResumed is <resumed/>: the session is back; H is what the server handled.
type SMResumed struct {
	H      uint32
	PrevID string
}

// SMEnabled is <enabled/>.
type SMEnabled struct {
	ID       string
	Resume   bool
	Max      uint32
	Location string
}

// SMFailed is <failed/>; H is set when the server said what it handled.
type SMFailed struct {
	Condition string
	H         *uint32
}

type smAnswer struct {
	XMLName  xml.Name
	ID       string `xml:"id,attr"`
	PrevID   string `xml:"previd,attr"`
	H        string `xml:"h,attr"`
	Resume   string `xml:"resume,attr"`
	Max      string `xml:"max,attr"`
	Location string `xml:"location,attr"`
	Inner    []struct {
		XMLName xml.Name
	} `xml:",any"`
}

// resume asks the upstream to resume r; a refusal is an outcome, not an error.
func resume(x *xmlReader, w io.Writer, r SMResume, offered bool) (SMOutcome, error) {
	if !offered {
		return SMOutcome{ResumeFailed: &SMFailed{Condition: "feature-not-implemented"}}, nil
	}
	var b []byte
	b = append(b, "<resume xmlns='"+nsSM+"' h='"+strconv.FormatUint(uint64(r.H), 10)+"' previd='"...)
	b = appendEscaped(b, r.PrevID)
	b = append(b, "'/>"...)
	a, err := smNext(x, w, b)
	if err != nil {
		return SMOutcome{}, err
	}
	switch a.XMLName.Local {
	case "resumed":
		h, err := parseH(a.H)
		if err != nil {
			return SMOutcome{}, err
		}
		return SMOutcome{Resumed: &SMResumed{H: h, PrevID: a.PrevID}}, nil
	case "failed":
		return SMOutcome{ResumeFailed: a.failed()}, nil
	}
	return SMOutcome{}, fmt.Errorf("unexpected <%s> after resume", a.XMLName.Local)
}

// smEnableRequest is the XEP-0198 enable for the freshly bound stream.
func smEnableRequest(e SMEnable) []byte {
	req := "<enable xmlns='" + nsSM + "'"
	if e.Resume {
		req += " resume='true'"
	}
	if e.Max > 0 {
		req += " max='" + strconv.FormatUint(uint64(e.Max), 10) + "'"
	}
	return []byte(req + "/>")
}

// readEnabled reads the answer to smEnableRequest into out.
func readEnabled(x *xmlReader, out *SMOutcome) error {
	a, err := readSM(x)
	if err != nil {
		return err
	}
	switch a.XMLName.Local {
	case "enabled":
		en := &SMEnabled{ID: a.ID, Resume: a.Resume == "true" || a.Resume == "1", Location: a.Location}
		if a.Max != "" {
			m, err := strconv.ParseUint(a.Max, 10, 32)
			if err != nil {
				return fmt.Errorf("enabled: bad max")
			}
			en.Max = uint32(m)
		}
		out.Enabled = en
		return nil
	case "failed":
		out.EnableFailed = a.failed()
		return nil
	}
	return fmt.Errorf("unexpected <%s> after enable", a.XMLName.Local)
}

// smNext sends req and reads the stream management answer that must follow.
func smNext(x *xmlReader, w io.Writer, req []byte) (smAnswer, error) {
	if _, err := w.Write(req); err != nil {
		return smAnswer{}, err
	}
	return readSM(x)
}

// readSM reads the stream management answer that must come next.
func readSM(x *xmlReader) (smAnswer, error) {
	se, err := x.next()
	if err != nil {
		return smAnswer{}, err
	}
	if se.Name.Space != nsSM {
		return smAnswer{}, fmt.Errorf("expected a stream management answer, got <%s>", se.Name.Local)
	}
	var a smAnswer
	if err := x.decode(&a, se); err != nil {
		return smAnswer{}, err
	}
	return a, nil
}

func (a smAnswer) failed() *SMFailed {
	f := &SMFailed{Condition: "undefined-condition"}
	if len(a.Inner) > 0 {
		f.Condition = a.Inner[0].XMLName.Local
	}
	if h, err := parseH(a.H); err == nil && a.H != "" {
		f.H = &h
	}
	return f
}

func parseH(s string) (uint32, error) {
	h, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("bad h %q", s)
	}
	return uint32(h), nil
}

func appendEscaped(b []byte, s string) []byte {
	buf := bytes.NewBuffer(b)
	_ = xml.EscapeText(buf, []byte(s)) // a bytes.Buffer never fails
	return buf.Bytes()
}
