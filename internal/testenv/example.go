package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ExampleConfig copies configs/example.yaml (found at configsDir) into a
// temporary directory as a deployment would use it: its certificate paths made
// absolute and its secret_key_file pointing at a freshly generated key. It
// returns the copy's path and text.
func ExampleConfig(t testing.TB, configsDir string) (path, body string) {
	t.Helper()
	abs, err := filepath.Abs(configsDir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(abs, "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "secret-key")
	if err := os.WriteFile(keyFile, []byte(randomSecret()+randomSecret()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	body = strings.ReplaceAll(string(b), "example-tls/", filepath.Join(abs, "example-tls")+"/")
	body = strings.ReplaceAll(body, "/etc/xmpp-oauth-proxy/secret-key", keyFile)
	path = filepath.Join(dir, "example.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, body
}
