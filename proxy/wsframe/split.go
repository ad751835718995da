package wsframe

import (
	"bytes"
	"errors"
)

// Errors of the scanner; callers map them to stream error conditions.
var (
	ErrTooBig        = errors.New("wsframe: element exceeds the size limit")
	ErrTooDeep       = errors.New("wsframe: element nested too deeply")
	ErrNotWellFormed = errors.New("wsframe: not well-formed")
	ErrRestricted    = errors.New("wsframe: comment, processing instruction or DTD")
	ErrText          = errors.New("wsframe: text at stream level")
)

// MaxDepth bounds the nesting inside one top-level element.
const MaxDepth = 64

// Kind is what a Unit is.
type Kind int

// Kinds of Unit.
const (
	Element Kind = iota + 1 // a complete top-level element
	Open                    // a stream header, <stream:stream ...>
	Close                   // the stream's end, </stream:stream>
)

// Unit is one piece of a stream. Raw is valid until the next Write.
type Unit struct {
	Kind Kind
	Raw  []byte
}

type state int

const (
	sContent state = iota // between tags
	sLT                   // after '<'
	sTag                  // inside a start or end tag
	sPI                   // inside <? ... ?>
	sBang                 // after "<!": CDATA or forbidden
	sCDATA                // inside <![CDATA[ ... ]]>
)

type span struct{ off, n int }

// Splitter scans a stream incrementally. Its zero value is not usable: use
// NewSplitter. After an error it stays failed.
type Splitter struct {
	max      int
	buf      []byte
	pos      int // next byte to scan
	start    int // first byte of the unit being scanned
	tagStart int
	st       state
	quote    byte   // inside a quoted attribute value
	stack    []span // open element names, offsets into buf
	err      error
}

// NewSplitter returns a Splitter whose units are at most max bytes.
func NewSplitter(max int) *Splitter { return &Splitter{max: max} }

// Write appends p to the bytes to scan. Units returned by Next before are
// invalid afterwards.
func (s *Splitter) Write(p []byte) {
	if s.start > 0 {
		// Drop what was handed out; offsets move down with the bytes.
		n := copy(s.buf, s.buf[s.start:])
		s.buf = s.buf[:n]
		for i := range s.stack {
			s.stack[i].off -= s.start
		}
		s.pos -= s.start
		s.tagStart -= s.start
		s.start = 0
	}
	s.buf = append(s.buf, p...)
}

// release drops the buffer when it holds nothing unscanned: an idle stream
// keeps no bytes.
func (s *Splitter) release() {
	if s.start == len(s.buf) && s.err == nil {
		s.buf, s.pos, s.start, s.tagStart = nil, 0, 0, 0
	}
}

// Pending reports whether part of a unit has been written but not completed.
func (s *Splitter) Pending() bool { return s.start < len(s.buf) }

// Next returns the next complete unit, or ok=false when more bytes are needed.
func (s *Splitter) Next() (u Unit, ok bool, err error) {
	if s.err != nil {
		return Unit{}, false, s.err
	}
	u, ok, err = s.scan()
	if err != nil {
		s.err = err
		s.buf, s.stack = nil, nil
	}
	return u, ok, err
}

func (s *Splitter) scan() (Unit, bool, error) {
	for ; s.pos < len(s.buf); s.pos++ {
		if s.pos-s.start >= s.max {
			return Unit{}, false, ErrTooBig
		}
		b := s.buf[s.pos]
		switch s.st {
		case sContent:
			if b == '<' {
				s.st, s.tagStart = sLT, s.pos
				continue
			}
			if len(s.stack) == 0 {
				if !isSpace(b) {
					return Unit{}, false, ErrText
				}
				s.start = s.pos + 1 // whitespace between units is dropped
			}
		case sLT:
			switch b {
			case '?':
				if len(s.stack) > 0 {
					return Unit{}, false, ErrRestricted
				}
				s.st = sPI
			case '!':
				if len(s.stack) == 0 {
					return Unit{}, false, ErrRestricted
				}
				s.st = sBang
			default:
				s.st = sTag
			}
		case sTag:
			switch {
			case s.quote != 0:
				if b == s.quote {
					s.quote = 0
				} else if b == '<' {
					return Unit{}, false, ErrNotWellFormed
				}
			case b == '\'' || b == '"':
				s.quote = b
			case b == '<':
				return Unit{}, false, ErrNotWellFormed
			case b == '>':
				s.st = sContent
				if u, ok, err := s.tag(); err != nil || ok {
					s.pos++
					return u, ok, err
				}
			}
		case sPI:
			if b == '>' && s.buf[s.pos-1] == '?' && s.pos-s.tagStart >= 3 {
				if !isXMLDecl(s.buf[s.tagStart : s.pos+1]) {
					return Unit{}, false, ErrRestricted
				}
				s.st = sContent
				s.start = s.pos + 1 // the XML declaration is dropped
			}
		case sBang:
			const cdata = "<![CDATA["
			n := s.pos - s.tagStart + 1
			if b != cdata[n-1] {
				return Unit{}, false, ErrRestricted
			}
			if n == len(cdata) {
				s.st = sCDATA
			}
		case sCDATA:
			if b == '>' && s.pos-s.tagStart >= 11 && s.buf[s.pos-1] == ']' && s.buf[s.pos-2] == ']' {
				s.st = sContent
			}
		}
	}
	return Unit{}, false, nil
}

// tag handles the tag that ends at s.pos; it returns a unit when one is complete.
func (s *Splitter) tag() (Unit, bool, error) {
	raw := s.buf[s.tagStart : s.pos+1]
	t, err := parseTag(raw)
	if err != nil {
		return Unit{}, false, err
	}
	depth := len(s.stack)
	switch {
	case t.end && depth == 0:
		if !isStreamName(t.name) {
			return Unit{}, false, ErrNotWellFormed
		}
		return s.emit(Close), true, nil
	case t.end:
		top := s.stack[depth-1]
		if !bytes.Equal(s.buf[top.off:top.off+top.n], t.name) {
			return Unit{}, false, ErrNotWellFormed
		}
		s.stack = s.stack[:depth-1]
		if depth == 1 {
			return s.emit(Element), true, nil
		}
	case t.selfClose && depth == 0:
		return s.emit(Element), true, nil
	case t.selfClose:
	case depth == 0 && isStreamName(t.name):
		return s.emit(Open), true, nil
	default:
		if depth >= MaxDepth {
			return Unit{}, false, ErrTooDeep
		}
		s.stack = append(s.stack, span{off: s.tagStart + 1, n: len(t.name)})
	}
	return Unit{}, false, nil
}

func (s *Splitter) emit(k Kind) Unit {
	u := Unit{Kind: k, Raw: s.buf[s.start : s.pos+1]}
	s.start = s.pos + 1
	return u
}

// isStreamName: a stream's own element, <stream:stream> under any prefix.
func isStreamName(name []byte) bool {
	_, local := splitName(name)
	return string(local) == "stream"
}

func isXMLDecl(pi []byte) bool {
	return len(pi) > 6 && string(pi[:5]) == "<?xml" && isSpace(pi[5])
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }
