package wsframe

import (
	"bytes"
	"errors"
)

// Namespaces of RFC 6120 and RFC 7395.
const (
	NSFraming = "urn:ietf:params:xml:ns:xmpp-framing"
	NSClient  = "jabber:client"
	NSStream  = "http://etherx.jabber.org/streams"
)

// CloseMessage is the framing's end of stream.
const CloseMessage = "<close xmlns='" + NSFraming + "'/>"

// Downstream turns a TCP stream's bytes into WebSocket messages.
type Downstream struct {
	sp        *Splitter
	defaultNS []byte   // the header's xmlns value, escaped
	decls     [][]byte // the header's xmlns:prefix='...' as written
}

// NewDownstream returns a Downstream whose elements are at most max bytes.
// Until a stream header says otherwise, the stream is RFC 6120's usual one:
// xmlns='jabber:client' and the prefix stream.
func NewDownstream(max int) *Downstream {
	return &Downstream{sp: NewSplitter(max), defaultNS: []byte(NSClient), decls: [][]byte{[]byte("xmlns:stream='" + NSStream + "'")}}
}

// Write scans p and calls emit with each complete message, in order. emit must
// not keep msg. Whitespace between elements (keepalives) makes no message.
func (d *Downstream) Write(p []byte, emit func(msg []byte) error) error {
	d.sp.Write(p)
	for {
		u, ok, err := d.sp.Next()
		if err != nil {
			return err
		}
		if !ok {
			d.sp.release()
			return nil
		}
		var msg []byte
		switch u.Kind {
		case Open:
			msg, err = d.open(u.Raw)
		case Close:
			msg = []byte(CloseMessage)
		default:
			msg, err = d.element(u.Raw)
		}
		if err != nil {
			return err
		}
		if err := emit(msg); err != nil {
			return err
		}
	}
}

// Idle reports whether no unit is half-written, so nothing is held back.
func (d *Downstream) Idle() bool { return !d.sp.Pending() }

// open remembers the header's namespace declarations and returns its <open/>.
func (d *Downstream) open(raw []byte) ([]byte, error) {
	t, err := parseTag(raw)
	if err != nil {
		return nil, err
	}
	d.defaultNS, d.decls = []byte(NSClient), nil
	var b bytes.Buffer
	b.WriteString("<open xmlns='" + NSFraming + "'")
	for _, a := range t.attrs {
		switch {
		case string(a.name) == "xmlns":
			v, _ := t.attrValue("xmlns")
			d.defaultNS = bytes.Clone(v)
		case isNSDecl(a.name):
			d.decls = append(d.decls, bytes.Clone(a.raw))
		default:
			b.WriteByte(' ')
			b.Write(a.raw)
		}
	}
	b.WriteString("/>")
	return b.Bytes(), nil
}

// element makes a top-level element standalone: it gets the header's default
// namespace unless it has its own, and the header's prefixes it may use.
func (d *Downstream) element(raw []byte) ([]byte, error) {
	end := startTagEnd(raw)
	t, err := parseTag(raw[:end+1])
	if err != nil {
		return nil, err
	}
	var add bytes.Buffer
	if _, ok := t.attrValue("xmlns"); !ok {
		add.WriteString(" xmlns='")
		add.Write(d.defaultNS)
		add.WriteString("'")
	}
	for _, decl := range d.decls {
		name := decl[:bytes.IndexByte(decl, '=')]
		prefix := bytes.TrimSpace(name[len("xmlns:"):])
		if _, own := t.attrValue(string(bytes.TrimSpace(name))); own {
			continue
		}
		if bytes.Contains(raw, append(append([]byte{}, prefix...), ':')) {
			add.WriteByte(' ')
			add.Write(decl)
		}
	}
	if add.Len() == 0 {
		return raw, nil
	}
	at := 1 + len(t.name) // right after the element's name
	out := make([]byte, 0, len(raw)+add.Len())
	out = append(out, raw[:at]...)
	out = append(out, add.Bytes()...)
	return append(out, raw[at:]...), nil
}

// startTagEnd is the index of the '>' that ends the first tag of raw.
func startTagEnd(raw []byte) int {
	var quote byte
	for i, b := range raw {
		switch {
		case quote != 0:
			if b == quote {
				quote = 0
			}
		case b == '\'' || b == '"':
			quote = b
		case b == '>':
			return i
		}
	}
	return len(raw) - 1
}

// ErrFraming marks a client message that is not what RFC 7395 allows: not one
// complete element, a stream header, or more than one element.
var ErrFraming = errors.New("wsframe: a message must hold exactly one complete element")

// FromClient turns one client message into bytes for the TCP stream. It
// returns Open for <open/> (translated to a stream header), Close for
// <close/>, and Element for anything else, passed on unchanged: inside the
// stream it inherits xmlns='jabber:client', as RFC 7395 means it to. A
// message of white space only is a keepalive: no bytes, kind 0.
func FromClient(msg []byte, max int) ([]byte, Kind, error) {
	sp := NewSplitter(max)
	sp.Write(msg)
	u, ok, err := sp.Next()
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		if sp.Pending() {
			return nil, 0, ErrFraming
		}
		return nil, 0, nil
	}
	if u.Kind != Element {
		return nil, 0, ErrFraming
	}
	if _, more, err := sp.Next(); err != nil || more || sp.Pending() {
		return nil, 0, ErrFraming // text, a second element or part of one after it
	}
	t, err := parseTag(u.Raw[:startTagEnd(u.Raw)+1])
	if err != nil {
		return nil, 0, err
	}
	if ns, _ := t.attrValue("xmlns"); string(ns) == NSFraming {
		switch string(t.name) {
		case "open":
			return streamHeader(t), Open, nil
		case "close":
			return []byte("</stream:stream>"), Close, nil
		}
	}
	return u.Raw, Element, nil
}

// streamHeader is the TCP stream header for a client's <open/>.
func streamHeader(t tag) []byte {
	var b bytes.Buffer
	b.WriteString("<?xml version='1.0'?><stream:stream xmlns='" + NSClient + "' xmlns:stream='" + NSStream + "'")
	for _, a := range t.attrs {
		if !isNSDecl(a.name) {
			b.WriteByte(' ')
			b.Write(a.raw)
		}
	}
	b.WriteString(">")
	return b.Bytes()
}
