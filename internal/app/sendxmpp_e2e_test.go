package app_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmpp/stanza"
)

// TestDebianClientSendsThroughProxy: go-sendxmpp, a stock Debian client, logs in
// as alice through the proxy with PLAIN and sends bob a message, on each server.
func TestDebianClientSendsThroughProxy(t *testing.T) {
	bin, err := exec.LookPath("go-sendxmpp")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("go-sendxmpp missing (scripts/setup-debian.sh installs it)")
		}
		t.Skip("go-sendxmpp not installed: apt-get install go-sendxmpp")
	}
	onEachServer(t, "", func(t *testing.T, s *stack) { sendxmppToBob(t, bin, s) })
}

func sendxmppToBob(t *testing.T, bin string, s *stack) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bob, bobIn := s.melliumSession(t, "bob", "desk", s.env.IdP.Users["bob"], sasl.Plain)
	if err := bob.Send(ctx, stanza.Presence{}.Wrap(nil)); err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(ctx, bin, "-u", s.jid("alice"), "-p", s.env.IdP.Users["alice"],
		"-j", s.starttls, "-n", "--timeout", "10", s.jid("bob"))
	cmd.Stdin = strings.NewReader("hello from go-sendxmpp")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no user config file
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go-sendxmpp: %v\n%s", err, out)
	}
	receive(t, bobIn.messages, "go-sendxmpp's message", func(b string) bool { return b == "hello from go-sendxmpp" })
}
