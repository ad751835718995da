package wsframe

import (
	"errors"
	"strings"
	"testing"
)

const header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='example.com' version='1.0' xml:lang='en'>"

// collect runs a Downstream over chunks and returns its messages.
func collect(t *testing.T, max int, chunks ...string) ([]string, error) {
	t.Helper()
	d := NewDownstream(max)
	var out []string
	for _, c := range chunks {
		if err := d.Write([]byte(c), func(m []byte) error { out = append(out, string(m)); return nil }); err != nil {
			return out, err
		}
	}
	return out, nil
}

func TestDownstreamTranslatesAStream(t *testing.T) {
	in := header + "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>" +
		" \n <message to='a@b' type=\"chat\"><body>x &gt; y <![CDATA[</body>]]></body></message>\n" +
		"<r xmlns='urn:xmpp:sm:3'/>" +
		"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>"
	want := []string{
		"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='s1' from='example.com' version='1.0' xml:lang='en'/>",
		"<stream:features xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>",
		"<message xmlns='jabber:client' to='a@b' type=\"chat\"><body>x &gt; y <![CDATA[</body>]]></body></message>",
		"<r xmlns='urn:xmpp:sm:3'/>",
		"<stream:error xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
		CloseMessage,
	}
	// Byte by byte and all at once give the same messages.
	for _, chunks := range [][]string{{in}, strings.Split(in, "")} {
		got, err := collect(t, 1024, chunks...)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestDownstreamRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		in   string
		want error
	}{
		"too big":          {header + "<message><body>" + strings.Repeat("x", 400) + "</body></message>", ErrTooBig},
		"endless text":     {header + "<message>" + strings.Repeat("x", 600), ErrTooBig},
		"text at top":      {header + "hello", ErrText},
		"comment":          {header + "<!-- hi -->", ErrRestricted},
		"comment inside":   {header + "<a><!-- hi --></a>", ErrRestricted},
		"pi":               {header + "<a><?php ?></a>", ErrRestricted},
		"mismatched tags":  {header + "<a><b></a></b>", ErrNotWellFormed},
		"stray end tag":    {header + "</a>", ErrNotWellFormed},
		"unquoted attr":    {header + "<a x=1/>", ErrNotWellFormed},
		"lt in attribute":  {header + "<a x='<'/>", ErrNotWellFormed},
		"too deep":         {header + strings.Repeat("<a>", MaxDepth+1), ErrTooDeep},
		"attr without gap": {header + "<a x='1'y='2'/>", ErrNotWellFormed},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := collect(t, len(header)+250, tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDownstreamRestartKeepsNamespaces(t *testing.T) {
	// The upstream restarts its stream after <success/> with other prefixes.
	got, err := collect(t, 1024, header+"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
		"<?xml version='1.0'?><s:stream xmlns='jabber:client' xmlns:s='http://etherx.jabber.org/streams' id='s2'>", "<s:features/>")
	if err != nil {
		t.Fatal(err)
	}
	want := "<s:features xmlns='jabber:client' xmlns:s='http://etherx.jabber.org/streams'/>"
	if len(got) != 4 || got[2] != "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='s2'/>" || got[3] != want {
		t.Fatalf("got %q", got)
	}
}

func TestFromClient(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		kind     Kind
		err      error
	}{
		{"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/>",
			"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>", Open, nil},
		{"<close xmlns=\"urn:ietf:params:xml:ns:xmpp-framing\"/>", "</stream:stream>", Close, nil},
		{"<?xml version='1.0'?>\n<message xmlns='jabber:client' to='b@x'><body>hi</body></message>\n",
			"<message xmlns='jabber:client' to='b@x'><body>hi</body></message>", Element, nil},
		{"<open/>", "<open/>", Element, nil}, // not the framing's: the server judges it
		{"  ", "", 0, nil},
		{"<message><body>hi</body>", "", 0, ErrFraming},
		{"<a/><b/>", "", 0, ErrFraming},
		{"<a/>text", "", 0, ErrFraming},
		{"text", "", 0, ErrText},
		{"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>", "", 0, ErrFraming},
		{"</stream:stream>", "", 0, ErrFraming},
		{"<!-- x --><a/>", "", 0, ErrRestricted},
		{"<a>" + strings.Repeat("x", 300) + "</a>", "", 0, ErrTooBig},
	} {
		got, kind, err := FromClient([]byte(tc.in), 256)
		if !errors.Is(err, tc.err) || string(got) != tc.want || kind != tc.kind {
			t.Errorf("FromClient(%q) = %q, %v, %v; want %q, %v, %v", tc.in, got, kind, err, tc.want, tc.kind, tc.err)
		}
	}
}

func TestSplitterReleasesBigBuffers(t *testing.T) {
	d := NewDownstream(1 << 20)
	big := "<message><body>" + strings.Repeat("x", 64<<10) + "</body></message>"
	if err := d.Write([]byte(header+big), func([]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := d.Write(nil, func([]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if !d.Idle() || cap(d.sp.buf) != 0 {
		t.Fatalf("idle %v, buffer of %d bytes kept", d.Idle(), cap(d.sp.buf))
	}
}

// Elements before any header (a stream error of the proxy's own) still come
// out standalone: the stream prefix is declared.
func TestDownstreamWithoutHeader(t *testing.T) {
	got, err := collect(t, 1024, "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("got %q", got)
	}
	parseOne(t, []byte(got[0]))
}
