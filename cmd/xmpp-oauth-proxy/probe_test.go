package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestCheckConfigProbe asks the real Glewlwyd and Prosody.
func TestCheckConfigProbe(t *testing.T) {
	env := testenv.Require(t)
	listen := testenv.ProxyListeners{StartTLS: "127.0.0.1:0", Direct: "127.0.0.1:0"}
	good := filepath.Join(t.TempDir(), "good.yaml")
	if err := os.WriteFile(good, []byte(env.ProxyConfig(listen, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "check-config", "-c", good, "--probe", "--timeout", "20s")
	if err != nil {
		t.Fatalf("probe failed: %v\n%s", err, out)
	}
	for _, want := range []string{"IdP: ready", env.IdP.TokenURL, env.IdP.JWKSURL, "upstream localhost (" + env.Prosody.C2SAddr + "): answers"} {
		if !strings.Contains(out, want) {
			t.Errorf("probe output lacks %q:\n%s", want, out)
		}
	}

	// An upstream that does not answer makes the probe fail, saying which.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	body := strings.Replace(env.ProxyConfig(listen, ""), env.Prosody.C2SAddr, "127.0.0.1:1", 1)
	if err := os.WriteFile(bad, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "check-config", "-c", bad, "--probe", "--timeout", "10s")
	if err == nil || !strings.Contains(out, "NOT ANSWERING") {
		t.Fatalf("probe of a dead upstream: err %v\n%s", err, out)
	}
}

// TestCheckConfigProbePortal: with a portal, the probe says whether the IdP
// offers the code flow the page signs in with.
func TestCheckConfigProbePortal(t *testing.T) {
	env := testenv.Require(t)
	dir := t.TempDir()
	portal, err := env.PortalConfig(t.Context(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "portal.yaml")
	body := env.ProxyConfig(testenv.ProxyListeners{StartTLS: "127.0.0.1:0", Direct: "127.0.0.1:0"}, portal.Extra)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "check-config", "-c", path, "--probe", "--timeout", "20s")
	if err != nil || !strings.Contains(out, "portal sign-in: code flow with PKCE; register "+portal.PublicURL+"/callback") {
		t.Fatalf("probe with a portal: err %v\n%s", err, out)
	}
}
