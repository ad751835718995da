package oauthx

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// oauthx knows nothing of XMPP: its code imports no package of this module and
// no XMPP or SASL library (see doc.go).
func TestImportsNoXMPP(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, banned := range []string{"github.com/xmpp-oauth-proxy/", "mellium.im/", "gosrc.io/", "sasl", "xmpp"} {
				if strings.Contains(path, banned) {
					t.Errorf("%s imports %s", name, path)
				}
			}
		}
	}
}
