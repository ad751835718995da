package testenv

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// TestHAProxyFrontsProsody: the benchmark baseline terminates Direct TLS and
// relays to Prosody's plain c2s port, where a login works; Close stops it.
func TestHAProxyFrontsProsody(t *testing.T) {
	if _, err := exec.LookPath("haproxy"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("haproxy missing (scripts/setup-debian.sh installs it)")
		}
		t.Skip("haproxy not installed")
	}
	env := Require(t)
	h, err := env.StartHAProxy(context.Background(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	viaHAProxy := env.Prosody.ServerInfo
	viaHAProxy.DirectTLSAddr = h.DirectTLSAddr
	c, f := dialXMPP(t, &viaHAProxy, true)
	if f.StartTLS == nil || len(f.Mechanisms) == 0 {
		t.Fatalf("features through haproxy: %+v; want Prosody's plain-port features", f)
	}
	if got := c.plainLogin("alice-haproxy", "wrong"); got != "failure" {
		t.Fatalf("a wrong login through haproxy: <%s>, want Prosody's <failure>", got)
	}
	pid := h.proc.Pid()
	h.Close()
	if syscall.Kill(pid, 0) == nil {
		t.Fatalf("haproxy (pid %d) still runs after Close", pid)
	}
}
