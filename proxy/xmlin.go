package proxy

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
)

// Errors of the pre-auth reader; conn.go maps them to stream error conditions.
var (
	errTooBig      = errors.New("element exceeds the size limit")
	errTooDeep     = errors.New("element nested too deeply")
	errRestricted  = errors.New("restricted xml: comment, processing instruction or dtd")
	errStreamText  = errors.New("text at stream level")
	errNotStream   = errors.New("first element is not a stream header")
	errStreamEnded = errors.New("client closed its stream")
	errManyAttrs   = errors.New("too many attributes")
	errDupAttr     = errors.New("duplicate attribute")
)

// maxDepth bounds nesting inside one pre-auth element; SASL elements have depth 1.
// maxAttrs bounds the attributes of one tag; a stream header has about seven.
const (
	maxDepth = 16
	maxAttrs = 32
)

// limitReader lets the decoder consume at most left bytes; reset per top-level element.
// It is an io.ByteReader so that xml.Decoder reads byte by byte from the bufio.Reader
// and never reads ahead: bytes after the last element stay in the bufio.Reader.
type limitReader struct {
	r    *bufio.Reader
	left int
}

func (l *limitReader) ReadByte() (byte, error) {
	if l.left <= 0 {
		return 0, errTooBig
	}
	b, err := l.r.ReadByte()
	if err != nil {
		return 0, &netReadErr{err}
	}
	l.left--
	return b, nil
}

// Read exists for io.Reader; xml.Decoder only calls ReadByte on an io.ByteReader.
func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errTooBig
	}
	if len(p) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= n
	if err != nil {
		err = &netReadErr{err}
	}
	return n, err
}

// streamReader reads one XML stream of the pre-auth phase.
type streamReader struct {
	lr    limitReader
	max   int
	dec   *xml.Decoder
	first bool // no token read yet: the XML declaration is allowed
}

func newStreamReader(br *bufio.Reader, max int) *streamReader {
	sr := &streamReader{lr: limitReader{r: br, left: max}, max: max, first: true}
	sr.dec = xml.NewDecoder(&sr.lr)
	sr.dec.Strict = true // only the predefined entities, matching tags
	return sr
}

// element is one first-level child of the stream, or (SASL2) a child of one.
type element struct {
	name     xml.Name
	attr     []xml.Attr
	text     []byte     // character data directly inside the element
	children []*element // kept elements only
}

func (e *element) attrValue(local string) (string, bool) {
	for _, a := range e.attr {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// header reads up to and including the opening <stream:stream> tag.
func (sr *streamReader) header() (xml.StartElement, error) {
	sr.lr.left = sr.max
	// Something that is not XML at all (an HTTP request, a TLS ClientHello on the
	// STARTTLS port) is refused at its first byte instead of waiting for a '<'.
	for {
		b, err := sr.lr.r.Peek(1)
		if err != nil {
			return xml.StartElement{}, &netReadErr{err}
		}
		if b[0] == '<' {
			break
		}
		if !isSpace(b[0]) {
			return xml.StartElement{}, errStreamText
		}
		if _, err := sr.lr.ReadByte(); err != nil {
			return xml.StartElement{}, err
		}
	}
	for {
		tok, err := sr.token()
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t.Copy(), nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return xml.StartElement{}, errStreamText
			}
		default:
			return xml.StartElement{}, errNotStream
		}
	}
}

// next reads the next first-level element whole. If want refuses its name, only the
// name is kept, but the element is still read to its end: well-formedness is judged
// before meaning (an undeclared entity is not-well-formed whatever carries it). It
// returns errStreamEnded when the client sent </stream:stream>. Whitespace
// between elements counts toward the limit of the element that follows, so endless
// whitespace ends in errTooBig too.
func (sr *streamReader) next(want func(xml.Name) bool) (*element, error) {
	sr.lr.left = sr.max
	var el *element
	var open []*element // the kept elements the decoder is inside, el first
	depth := 0
	keep := false // want accepted the element: keep its attributes, text and children
	for {
		tok, err := sr.token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > maxDepth {
				return nil, errTooDeep
			}
			if depth == 1 {
				el = &element{name: t.Name}
				if keep = want(t.Name); keep {
					el.attr = t.Copy().Attr
					open = append(open[:0], el)
				} else if t.Name == (xml.Name{Space: nsStream, Local: "stream"}) {
					return el, nil // a nested stream header never ends: refuse it now
				}
			} else if keep {
				child := &element{name: t.Name, attr: t.Copy().Attr}
				parent := open[len(open)-1]
				parent.children = append(parent.children, child)
				open = append(open, child)
			}
		case xml.EndElement:
			if depth == 0 {
				return nil, errStreamEnded // the decoder checked it closes the stream
			}
			depth--
			if depth == 0 {
				return el, nil
			}
			if keep {
				open = open[:len(open)-1]
			}
		case xml.CharData:
			switch depth {
			case 0:
				if len(bytes.TrimSpace(t)) != 0 {
					return nil, errStreamText
				}
			default:
				if keep {
					cur := open[len(open)-1]
					cur.text = append(cur.text, t...)
				}
			}
		}
	}
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

// token returns the next token and rejects what RFC 6120 section 11.1 forbids.
func (sr *streamReader) token() (xml.Token, error) {
	tok, err := sr.dec.Token()
	if err != nil {
		return nil, err
	}
	first := sr.first
	sr.first = false
	switch t := tok.(type) {
	case xml.ProcInst:
		if first && t.Target == "xml" {
			return sr.token() // the XML declaration; at most once
		}
		return nil, errRestricted
	case xml.Comment, xml.Directive:
		return nil, errRestricted
	case xml.StartElement:
		if err := checkAttrs(t.Attr); err != nil {
			return nil, err
		}
	}
	return tok, nil
}

// checkAttrs rejects what encoding/xml lets through: the same attribute twice
// (by expanded name, as Namespaces in XML requires) and endless attribute lists.
func checkAttrs(attrs []xml.Attr) error {
	if len(attrs) > maxAttrs {
		return errManyAttrs
	}
	for i, a := range attrs {
		for _, b := range attrs[:i] {
			if a.Name == b.Name {
				return errDupAttr
			}
		}
	}
	return nil
}
