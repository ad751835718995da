package wsframe

import "bytes"

// maxAttrs bounds the attributes of one tag.
const maxAttrs = 64

type attr struct {
	name []byte
	raw  []byte // name='value' as written, still escaped
}

type tag struct {
	name      []byte
	attrs     []attr
	end       bool // </name>
	selfClose bool // <name/>
}

// parseTag checks the syntax of one tag, raw from '<' to '>', and splits it.
func parseTag(raw []byte) (tag, error) {
	var t tag
	p := raw[1 : len(raw)-1]
	if len(p) > 0 && p[0] == '/' {
		t.end, p = true, p[1:]
	}
	n := nameLen(p)
	if n == 0 {
		return t, ErrNotWellFormed
	}
	t.name, p = p[:n], p[n:]
	if t.end {
		if len(bytes.TrimLeft(p, " \t\r\n")) != 0 {
			return t, ErrNotWellFormed
		}
		return t, nil
	}
	for {
		rest := bytes.TrimLeft(p, " \t\r\n")
		spaced := len(rest) < len(p)
		p = rest
		switch {
		case len(p) == 0:
			return t, nil
		case len(p) == 1 && p[0] == '/':
			t.selfClose = true
			return t, nil
		case !spaced:
			return t, ErrNotWellFormed // attributes need white space before them
		}
		start := p
		n := nameLen(p)
		if n == 0 || len(t.attrs) >= maxAttrs {
			return t, ErrNotWellFormed
		}
		name := p[:n]
		p = bytes.TrimLeft(p[n:], " \t\r\n")
		if len(p) == 0 || p[0] != '=' {
			return t, ErrNotWellFormed
		}
		p = bytes.TrimLeft(p[1:], " \t\r\n")
		if len(p) == 0 || p[0] != '\'' && p[0] != '"' {
			return t, ErrNotWellFormed
		}
		end := bytes.IndexByte(p[1:], p[0])
		if end < 0 {
			return t, ErrNotWellFormed
		}
		p = p[end+2:]
		t.attrs = append(t.attrs, attr{name: name, raw: start[:len(start)-len(p)]})
	}
}

// nameLen is the length of the XML name p starts with (ASCII checked; other
// bytes are left to the parsers at either end).
func nameLen(p []byte) int {
	for i, b := range p {
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b == '_', b == ':', b >= 0x80:
		case i > 0 && (b >= '0' && b <= '9' || b == '-' || b == '.'):
		default:
			return i
		}
	}
	return len(p)
}

func splitName(name []byte) (prefix, local []byte) {
	if i := bytes.IndexByte(name, ':'); i >= 0 {
		return name[:i], name[i+1:]
	}
	return nil, name
}

// attrValue returns the value of the attribute called name, still escaped.
func (t *tag) attrValue(name string) ([]byte, bool) {
	for _, a := range t.attrs {
		if string(a.name) == name {
			v := a.raw[bytes.IndexByte(a.raw, '=')+1:]
			v = bytes.TrimLeft(v, " \t\r\n")
			return v[1 : len(v)-1], true
		}
	}
	return nil, false
}

// isNSDecl: xmlns or xmlns:prefix.
func isNSDecl(name []byte) bool {
	return string(name) == "xmlns" || bytes.HasPrefix(name, []byte("xmlns:"))
}
