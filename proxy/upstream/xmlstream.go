package upstream

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// XML namespaces of the stream layer.
const (
	nsStreams = "http://etherx.jabber.org/streams"
	nsClient  = "jabber:client"
	nsTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	nsStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"
)

// Limits on what the upstream may send us. It is semi-trusted: bound it anyway.
const (
	maxElementBytes = 256 << 10 // one top-level element (features, challenge, stanza)
	maxHeaderBytes  = 4 << 10   // XML declaration plus stream header
)

var (
	errTooLarge     = errors.New("upstream element too large")
	errStreamClosed = errors.New("upstream closed the stream")
)

// streamError is a <stream:error/> the upstream sent; Condition is its element name.
type streamError struct{ Condition string }

func (e *streamError) Error() string { return "upstream stream error: " + e.Condition }

// budgetReader hands bytes one at a time from a bufio.Reader to an xml.Decoder and
// fails once the current budget is spent. It never reads ahead of the decoder, so
// whatever the upstream sent past the last element stays in the bufio.Reader.
type budgetReader struct {
	br     *bufio.Reader
	budget int
	total  int64 // bytes handed out since the last reset
}

func (b *budgetReader) ReadByte() (byte, error) {
	if b.budget <= 0 {
		return 0, errTooLarge
	}
	c, err := b.br.ReadByte()
	if err == nil {
		b.budget--
		b.total++
	}
	return c, err
}

// Read exists for io.Reader; the decoder uses ReadByte.
func (b *budgetReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c, err := b.ReadByte()
	if err != nil {
		return 0, err
	}
	p[0] = c
	return 1, nil
}

// xmlReader reads one XMPP stream from the upstream, element by element.
type xmlReader struct {
	br  *bufio.Reader
	lim *budgetReader
	dec *xml.Decoder
}

func newXMLReader(r io.Reader) *xmlReader {
	x := &xmlReader{br: bufio.NewReaderSize(r, 4096)}
	x.restart()
	return x
}

// restart forgets the old stream's parser state (after SASL success or STARTTLS the
// peer opens a new stream), keeping bytes already buffered.
func (x *xmlReader) restart() {
	x.lim = &budgetReader{br: x.br}
	x.dec = xml.NewDecoder(x.lim)
	x.dec.Strict = true
}

// openStream reads the XML declaration and the upstream's stream header.
func (x *xmlReader) openStream() (xml.StartElement, error) {
	x.lim.budget = maxHeaderBytes
	for range 8 { // declaration, whitespace, header
		tok, err := x.dec.Token()
		if err != nil {
			return xml.StartElement{}, fmt.Errorf("reading stream header: %w", err)
		}
		switch t := tok.(type) {
		case xml.ProcInst, xml.CharData:
			continue
		case xml.StartElement:
			if t.Name.Space != nsStreams || t.Name.Local != "stream" {
				return xml.StartElement{}, fmt.Errorf("unexpected stream root <%s>", t.Name.Local)
			}
			return t, nil
		default:
			return xml.StartElement{}, fmt.Errorf("unexpected %T before stream header", tok)
		}
	}
	return xml.StartElement{}, errors.New("no stream header")
}

// next returns the start of the next top-level element, skipping whitespace
// keepalives. Stream errors and the stream's end are errors. Call decode or skip
// on the returned element before calling next again.
func (x *xmlReader) next() (xml.StartElement, error) {
	x.lim.budget = maxElementBytes
	for range 1024 { // whitespace runs come as single CharData tokens; bound anyway
		tok, err := x.rawNext()
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space == nsStreams && t.Name.Local == "error" {
				return xml.StartElement{}, x.streamError(t)
			}
			return t, nil
		case xml.EndElement:
			return xml.StartElement{}, errStreamClosed
		case xml.CharData, xml.Comment:
			continue
		default:
			return xml.StartElement{}, fmt.Errorf("unexpected %T in stream", tok)
		}
	}
	return xml.StartElement{}, errors.New("too much whitespace between elements")
}

// rawNext reads a token; the end of input is the end of the stream.
func (x *xmlReader) rawNext() (xml.Token, error) {
	tok, err := x.dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errStreamClosed
		}
		return nil, err
	}
	return tok, nil
}

func (x *xmlReader) streamError(se xml.StartElement) error {
	var v struct {
		Inner []struct {
			XMLName xml.Name
		} `xml:",any"`
	}
	if err := x.dec.DecodeElement(&v, &se); err != nil {
		return &streamError{Condition: "undefined-condition"}
	}
	for _, c := range v.Inner {
		if c.XMLName.Local != "text" {
			return &streamError{Condition: c.XMLName.Local}
		}
	}
	return &streamError{Condition: "undefined-condition"}
}

// decode reads the element se started into v.
func (x *xmlReader) decode(v any, se xml.StartElement) error {
	return x.dec.DecodeElement(v, &se)
}

// skip discards the element se started.
func (x *xmlReader) skip() error { return x.dec.Skip() }

// leftover returns the bytes received past the last element read, or an error if
// the decoder holds a byte it cannot give back.
func (x *xmlReader) leftover() ([]byte, error) {
	if x.dec.InputOffset() != x.lim.total {
		return nil, errors.New("xml decoder read past the element")
	}
	n := x.br.Buffered()
	if n == 0 {
		return nil, nil
	}
	b, err := x.br.Peek(n)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}
