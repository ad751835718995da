package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/credstore"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/app"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/config"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// TestAppPasswordsCommand lists and revokes through the operator command on
// the store the proxy's config names; the passwords never appear.
func TestAppPasswordsCommand(t *testing.T) {
	path, _ := testenv.ExampleConfig(t, "../../configs")
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	t.Setenv("XMPP_OAUTH_PROXY_STORE_PATH", filepath.Join(t.TempDir(), "credentials.db"))
	t.Setenv("XMPP_OAUTH_PROXY_STORE_SECRET_KEY", base64.StdEncoding.EncodeToString(key))
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := app.OpenStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var secrets []string
	var ids []string
	for _, label := range []string{"phone", "laptop"} {
		ap, sec, err := s.CreateAppPassword(ctx, credstore.NewAppPassword{
			Owner: credstore.Owner{JID: "alice@example.org", Subject: "sub-1"}, Label: label, RefreshToken: "rt-" + label})
		if err != nil {
			t.Fatal(err)
		}
		secrets, ids = append(secrets, sec.Reveal()), append(ids, ap.ID)
	}
	// A FAST token minted by a login with the laptop's password.
	laptop, err := s.Verify(ctx, "alice@example.org", secrets[1], "")
	if err != nil {
		t.Fatal(err)
	}
	fast, _, err := s.IssueFASTToken(ctx, credstore.NewFASTToken{Owner: "alice@example.org", GrantID: laptop.GrantID,
		UserAgentID: "ua-1", Label: "Monal", Mechanism: "HT-SHA-256-NONE", Expires: time.Now().Add(time.Hour), ParentID: laptop.ID})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	out, err := run(t, "app-passwords", "list", "-c", path, "--user", "Alice@Example.org")
	if err != nil || !strings.Contains(out, "phone") || !strings.Contains(out, ids[1]) || strings.Count(out, "active") != 3 ||
		!strings.Contains(out, fast.ID) || !strings.Contains(out, "FAST token (HT-SHA-256-NONE)") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if out, err = run(t, "app-passwords", "revoke", "-c", path, "--user", "alice@example.org", "--id", ids[0]); err != nil {
		t.Fatalf("revoke: %v\n%s", err, out)
	}
	out, _ = run(t, "app-passwords", "list", "-c", path, "--user", "alice@example.org")
	if strings.Count(out, "active") != 2 || !strings.Contains(out, "revoked by user") {
		t.Fatalf("after revoke:\n%s", out)
	}
	if _, err := run(t, "app-passwords", "revoke", "-c", path, "--user", "alice@example.org", "--id", ids[0]); err == nil {
		t.Fatal("revoking twice succeeded")
	}
	if _, err := run(t, "app-passwords", "revoke", "-c", path, "--user", "alice@example.org"); err == nil {
		t.Fatal("revoke without --id or --all succeeded")
	}
	if out, err = run(t, "app-passwords", "revoke", "-c", path, "--user", "alice@example.org", "--all"); err != nil || !strings.Contains(out, ids[1]) {
		t.Fatalf("revoke --all: %v\n%s", err, out)
	}
	out, _ = run(t, "app-passwords", "list", "-c", path, "--user", "alice@example.org")
	for _, sec := range secrets {
		if strings.Contains(out, sec) {
			t.Fatal("list prints a password")
		}
	}
	if strings.Contains(out, "active") {
		t.Fatalf("--all left an active password:\n%s", out)
	}
}
