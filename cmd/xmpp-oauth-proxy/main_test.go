package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// run executes the command line as the binary would and returns its output and error.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := rootCommand()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.Execute()
	return out.String(), err
}

func TestCheckConfigExample(t *testing.T) {
	path, _ := testenv.ExampleConfig(t, "../../configs")
	out, err := run(t, "check-config", "-c", path)
	if err != nil {
		t.Fatalf("example config rejected: %v\n%s", err, out)
	}
	if !strings.Contains(out, "configuration is valid") {
		t.Errorf("output: %s", out)
	}
}

func TestCheckConfigNamesTheBadKey(t *testing.T) {
	_, body := testenv.ExampleConfig(t, "../../configs")
	for name, c := range map[string]struct{ from, to, key string }{
		"misspelt key": {"  client_id:", "  clientid:", "oauth.clientid"},
		"bad URL":      {`issuer: "https://auth.example.org/realms/xmpp"`, `issuer: "auth.example.org/realms/xmpp"`, "oauth.issuer"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if !strings.Contains(body, c.from) {
				t.Fatalf("example has no %q", c.from)
			}
			path := filepath.Join(dir, "bad.yaml")
			if err := os.WriteFile(path, []byte(strings.Replace(body, c.from, c.to, 1)), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := run(t, "check-config", "-c", path)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.key) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the key %q and the file", err, c.key)
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"check-config", "--help"}, {"version", "--help"}} {
		out, err := run(t, args...)
		if err != nil || !strings.Contains(out, "Usage:") {
			t.Errorf("%v: err %v, output %q", args, err, out)
		}
	}
	out, err := run(t, "version")
	if err != nil || !strings.HasPrefix(out, "xmpp-oauth-proxy ") {
		t.Errorf("version: %v %q", err, out)
	}
	if _, err := run(t, "serve"); err == nil {
		t.Error("serve without -c accepted")
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
