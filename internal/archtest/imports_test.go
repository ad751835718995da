package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/xmpp-oauth-proxy/xmpp-oauth-proxy"

// forbidden maps a package to what it must never depend on, directly or not.
// A prefix ending in "/" bans a tree; a bare path bans that package only.
// credstore is reached only from the wiring (internal/app) and the portal:
// the SASL and proxy layers ask interfaces, so they ban it.
var forbidden = map[string][]string{
	"saslauth":           {"net/http", module + "/oauthx", module + "/proxy", module + "/internal/", module + "/credstore"},
	"oauthx":             {module + "/saslauth", module + "/proxy", module + "/internal/", module + "/credstore", "mellium.im/", "gosrc.io/", "github.com/xdg-go/scram"},
	"proxy":              {module + "/oauthx", module + "/internal/app", module + "/internal/config", module + "/cmd/", module + "/credstore"},
	"proxy/upstream":     {module + "/oauthx", module + "/saslauth", module + "/internal/app", module + "/internal/config", module + "/credstore", "net/http"},
	"credstore":          {module + "/", "net/http", "mellium.im/", "gosrc.io/"},
	"internal/tlsrecord": {module + "/"},
	"portal":             {module + "/proxy", module + "/saslauth", module + "/internal/", "mellium.im/", "gosrc.io/"},
	"internal/config":    {module + "/proxy", module + "/saslauth", module + "/oauthx", module + "/internal/app"},
	"internal/app":       {module + "/cmd/"},
	"grantcheck":         {module + "/", "net/http", "database/sql"},
}

type pkg struct {
	ImportPath string
	Deps       []string
}

func TestImportsPointOneWay(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Deps", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := map[string]bool{}
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		seen[rel] = true
		for _, dep := range p.Deps {
			for _, ban := range forbidden[rel] {
				if dep == strings.TrimSuffix(ban, "/") || strings.HasSuffix(ban, "/") && strings.HasPrefix(dep, ban) {
					t.Errorf("%s depends on %s", rel, dep)
				}
			}
		}
	}
	for rel := range forbidden {
		if !seen[rel] {
			t.Errorf("rule for %s, which go list no longer shows", rel)
		}
	}
}
