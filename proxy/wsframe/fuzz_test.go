package wsframe

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

const fuzzMax = 512

// units splits data, cut into chunks at the given sizes, into units (copied).
func units(data, cuts []byte) ([]Unit, error) {
	sp := NewSplitter(fuzzMax)
	var out []Unit
	for len(data) > 0 {
		n := len(data)
		if len(cuts) > 0 {
			n = min(n, int(cuts[0])+1)
			cuts = cuts[1:]
		}
		sp.Write(data[:n])
		data = data[n:]
		for {
			u, ok, err := sp.Next()
			if err != nil {
				return out, err
			}
			if !ok {
				break
			}
			out = append(out, Unit{Kind: u.Kind, Raw: bytes.Clone(u.Raw)})
		}
	}
	return out, nil
}

// FuzzSplitter: any input, cut anywhere, gives the same units as in one piece;
// each unit is within the limit; and the units are the input itself, in
// order, with only white space and XML declarations between them: no byte of
// an element lost, duplicated or split.
func FuzzSplitter(f *testing.F) {
	f.Add([]byte(header+"<a x='>'><b/>t<![CDATA[<]]></a> <c/></stream:stream>"), []byte{0, 3, 7})
	f.Add([]byte("<?xml version='1.0'?><message><body>&lt;</body></message>"), []byte{1})
	f.Add([]byte("<a><!-- c --></a>"), []byte{})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		whole, werr := units(data, nil)
		split, serr := units(data, cuts)
		if !errors.Is(serr, werr) && (serr == nil || werr == nil || serr.Error() != werr.Error()) {
			t.Fatalf("error %v in one piece, %v in chunks", werr, serr)
		}
		if len(whole) != len(split) {
			t.Fatalf("%d units in one piece, %d in chunks", len(whole), len(split))
		}
		rest := data
		for i, u := range whole {
			if u.Kind != split[i].Kind || !bytes.Equal(u.Raw, split[i].Raw) {
				t.Fatalf("unit %d: %q in one piece, %q in chunks", i, u.Raw, split[i].Raw)
			}
			if len(u.Raw) > fuzzMax {
				t.Fatalf("unit of %d bytes, limit %d", len(u.Raw), fuzzMax)
			}
			rest = skipBetween(rest)
			if !bytes.HasPrefix(rest, u.Raw) {
				t.Fatalf("unit %d %q is not the next input bytes %q", i, u.Raw, rest[:min(len(rest), 40)])
			}
			rest = rest[len(u.Raw):]
		}
	})
}

// skipBetween drops white space and XML declarations from the start of p.
func skipBetween(p []byte) []byte {
	for {
		q := bytes.TrimLeft(p, " \t\r\n")
		if bytes.HasPrefix(q, []byte("<?xml")) {
			if i := bytes.Index(q, []byte("?>")); i >= 0 {
				q = q[i+2:]
			}
		}
		if len(q) == len(p) {
			return p
		}
		p = q
	}
}

// FuzzTranslate builds a well-formed stream from the fuzzer's bytes, feeds it
// through Downstream in random chunks, and checks that each element comes out
// exactly once, in order, as a message that parses on its own as one element
// in the right namespace; and that FromClient passes each message back intact.
func FuzzTranslate(f *testing.F) {
	f.Add(uint64(1), []byte("hello <world> & 'you'"))
	f.Add(uint64(7), []byte{0, 1, 2, 3, 250})
	f.Fuzz(func(t *testing.T, seed uint64, text []byte) {
		text = text[:min(len(text), 256)] // long texts add nothing but time
		rng := rand.New(rand.NewPCG(seed, 1))
		var stream bytes.Buffer
		stream.WriteString(header)
		var want []string // name of each element
		for i := range rng.IntN(8) + 1 {
			name := []string{"message", "stream:features", "iq", "r", "stream:error"}[rng.IntN(5)]
			want = append(want, name)
			fmt.Fprintf(&stream, "%s<%s id='%d'>", []string{"", " ", "\n"}[rng.IntN(3)], name, i)
			for range rng.IntN(3) {
				stream.WriteString("<body a=\"&quot;'\">")
				_ = xml.EscapeText(&stream, bytes.ToValidUTF8(text, nil))
				stream.WriteString("</body><x:y xmlns:x='urn:x'/>")
			}
			fmt.Fprintf(&stream, "</%s>", name)
		}
		stream.WriteString("</stream:stream>")

		d := NewDownstream(1 << 20)
		var msgs [][]byte
		in := stream.Bytes()
		for len(in) > 0 {
			n := min(len(in), rng.IntN(64)+1)
			if err := d.Write(in[:n], func(m []byte) error { msgs = append(msgs, bytes.Clone(m)); return nil }); err != nil {
				t.Fatal(err)
			}
			in = in[n:]
		}
		if len(msgs) != len(want)+2 || string(msgs[len(msgs)-1]) != CloseMessage {
			t.Fatalf("%d messages for %d elements", len(msgs), len(want))
		}
		for i, name := range want {
			m := msgs[i+1]
			el := parseOne(t, m)
			wantNS := NSClient
			if name == "stream:features" || name == "stream:error" {
				wantNS = NSStream
			}
			if el.Name.Space != wantNS || "stream:"+el.Name.Local != name && el.Name.Local != name {
				t.Fatalf("message %q parsed as %v, want %s", m, el.Name, name)
			}
			back, kind, err := FromClient(m, 1<<20)
			if err != nil || kind != Element || !bytes.Equal(back, m) {
				t.Fatalf("FromClient(%q) = %q, %v, %v", m, back, kind, err)
			}
		}
	})
}

// parseOne parses m as a standalone document holding one element.
func parseOne(t *testing.T, m []byte) xml.StartElement {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(m))
	var first xml.StartElement
	depth, roots := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("message %q does not parse: %v", m, err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				first = tk
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	if roots != 1 || depth != 0 {
		t.Fatalf("message %q holds %d elements", m, roots)
	}
	return first
}
