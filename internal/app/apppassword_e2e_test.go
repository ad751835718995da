package app_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmpp/stanza"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/credstore"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/app"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/config"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// storeConfig is the YAML of a SQLite credential store in a fresh directory,
// plus extra top-level keys.
func storeConfig(t *testing.T, recheck string) string { return storeConfigTB(t, recheck) }

func storeConfigTB(t testing.TB, recheck string) string {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return fmt.Sprintf("store: {path: %q, secret_key: %q}\napp_passwords: {recheck: %s, grace: 1h}\n",
		filepath.Join(t.TempDir(), "credentials.db"), base64.StdEncoding.EncodeToString(key), recheck)
}

// newAppPassword signs user in at the IdP (a real grant with a refresh token,
// as the portal's code flow gets) and creates an app password on it.
func (s *stack) newAppPassword(t testing.TB, user, idpPassword, label string) (credstore.AppPassword, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tok, err := s.env.IdP.PasswordGrant(ctx, user, idpPassword)
	if err != nil || tok.Refresh == "" {
		t.Fatalf("IdP sign-in for %s: %v", user, err)
	}
	ap, secret, err := s.app.CredentialStore().CreateAppPassword(ctx, credstore.NewAppPassword{
		Owner:        credstore.Owner{JID: s.jid(user), Subject: "sub-" + user},
		Label:        label,
		RefreshToken: tok.Refresh,
	})
	if err != nil {
		t.Fatal(err)
	}
	return ap, secret.Reveal()
}

// tokenRequests is how many requests reached the IdP's token endpoint.
func (s *stack) tokenRequests(t testing.TB) float64 {
	return s.scrape(t, `xmpp_oauth_proxy_idp_request_duration_seconds_count{endpoint="token"`)
}

// TestAppPasswordWithPasswordGrantOff is the MFA case: the proxy may not use
// the password grant, so the IdP password fails over PLAIN while an app
// password works, with no IdP request, for a stock client (go-sendxmpp) whose
// message arrives.
func TestAppPasswordWithPasswordGrantOff(t *testing.T) {
	env := testenv.Require(t)
	yaml := strings.Replace(env.ProxyConfig(listenAny, storeConfig(t, "15m")), "oauth:\n", "oauth:\n  resource_owner_password: false\n", 1)
	s := startStackFor(t, env, yaml)
	_, appPW := s.newAppPassword(t, "alice", env.IdP.Users["alice"], "go-sendxmpp on the laptop")

	c, _ := s.dialRaw(t, false)
	wantFailure(t, c.auth("PLAIN", plainPayload("", "alice", env.IdP.Users["alice"])), "not-authorized")

	before := s.tokenRequests(t)
	bob, bobIn := s.melliumSession(t, "bob", "desk", s.newBobAppPassword(t), sasl.Plain)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bob.Send(ctx, stanza.Presence{}.Wrap(nil)); err != nil {
		t.Fatal(err)
	}
	bin, err := exec.LookPath("go-sendxmpp")
	if err != nil {
		t.Fatal("go-sendxmpp missing (scripts/setup-debian.sh installs it)")
	}
	cmd := exec.CommandContext(ctx, bin, "-u", s.jid("alice"), "-p", appPW,
		"-j", s.starttls, "-n", "--timeout", "10", s.jid("bob"))
	cmd.Stdin = strings.NewReader("sent with an app password")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go-sendxmpp: %v\n%s", err, out)
	}
	receive(t, bobIn.messages, "the message", func(b string) bool { return b == "sent with an app password" })
	if after := s.tokenRequests(t); after != before {
		t.Fatalf("app-password logins made %v token requests, want 0", after-before)
	}
	if n := s.scrape(t, `xmpp_oauth_proxy_app_password_logins_total{result="ok"}`); n != 2 {
		t.Fatalf("app-password logins counted %v, want 2", n)
	}
	if strings.Contains(s.logs.String(), appPW) {
		t.Fatal("the app password appears in the log")
	}
}

func (s *stack) newBobAppPassword(t *testing.T) string {
	_, pw := s.newAppPassword(t, "bob", s.env.IdP.Users["bob"], "bob's desk")
	return pw
}

// TestRevokedAppPasswordEndsSession: revoking an app password ends the session
// logged in with it at once, with a stream error the client can show, and the
// next login with it fails; another app password of the same user goes on.
func TestRevokedAppPasswordEndsSession(t *testing.T) {
	s := startStack(t, storeConfig(t, "15m"))
	ap, pw := s.newAppPassword(t, "carol", s.env.IdP.Users["carol"], "phone")
	_, other := s.newAppPassword(t, "carol", s.env.IdP.Users["carol"], "tablet")
	phone := s.loginPlain(t, "carol", pw)
	phone.open(s.env.Prosody.Domain)
	phone.bind("phone")
	tablet := s.loginPlain(t, "carol", other)
	tablet.open(s.env.Prosody.Domain)
	tablet.bind("tablet")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.app.CredentialStore().Revoke(ctx, s.jid("carol"), ap.ID); err != nil {
		t.Fatal(err)
	}
	wantStreamError(t, phone, "not-authorized", "app password or device was revoked")

	c, _ := s.dialRaw(t, false)
	wantFailure(t, c.auth("PLAIN", plainPayload("", "carol", pw)), "not-authorized")
	tablet.send("<iq type='get' id='ping1'><ping xmlns='urn:xmpp:ping'/></iq>")
	if el := tablet.next(); el.attr("id") != "ping1" {
		t.Fatalf("the other device's session: got <%s>", el.XMLName.Local)
	}
}

// TestIdPRevocationEndsAppPasswords: the user is deleted at the IdP. Within
// the recheck interval the proxy's refresh fails, the app password stops
// working and the live session ends.
func TestIdPRevocationEndsAppPasswords(t *testing.T) {
	s := startStack(t, storeConfig(t, "1s"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	user := fmt.Sprintf("leaver%d", time.Now().UnixNano()%1e9)
	if err := s.env.IdP.AddUser(ctx, user, "leaver-password"); err != nil {
		t.Fatal(err)
	}
	_, pw := s.newAppPassword(t, user, "leaver-password", "laptop")
	c := s.loginPlain(t, user, pw)
	c.open(s.env.Prosody.Domain)
	c.bind("laptop")

	if err := s.env.IdP.DeleteUser(ctx, user); err != nil {
		t.Fatal(err)
	}
	wantStreamError(t, c, "not-authorized", "identity provider")
	if n := s.scrape(t, `xmpp_oauth_proxy_grant_checks_total{outcome="revoked"}`); n < 1 {
		t.Fatalf("revoked grant checks counted %v", n)
	}
	c2, _ := s.dialRaw(t, false)
	wantFailure(t, c2.auth("PLAIN", plainPayload("", user, pw)), "not-authorized")
}

// wantStreamError reads until a stream error arrives (within the read
// deadline) and checks its condition and text.
func wantStreamError(t *testing.T, c *rawClient, cond, text string) {
	t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	for range 16 {
		el, err := c.tryNext()
		if err != nil {
			t.Fatalf("no stream error before: %v", err)
		}
		if el.XMLName.Local == "error" {
			if !strings.Contains(el.Inner, "<"+cond) || !strings.Contains(el.Inner, text) {
				t.Fatalf("stream error %s, want %s with %q", el.Inner, cond, text)
			}
			return
		}
	}
	t.Fatal("no stream error in 16 elements")
}

// TestPasswordGrantSessionEndsWhenUserDeleted: a session that logged in with
// the IdP password (password grant) is re-checked with that grant's refresh
// token; once the user is deleted at the IdP the session ends within the
// interval.
func TestPasswordGrantSessionEndsWhenUserDeleted(t *testing.T) {
	s := startStack(t, "sessions: {recheck: 1s}\n")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	user := fmt.Sprintf("quitter%d", time.Now().UnixNano()%1e9)
	if err := s.env.IdP.AddUser(ctx, user, "quitter-password"); err != nil {
		t.Fatal(err)
	}
	c := s.loginPlain(t, user, "quitter-password")
	c.open(s.env.Prosody.Domain)
	c.bind("desk")
	if err := s.env.IdP.DeleteUser(ctx, user); err != nil {
		t.Fatal(err)
	}
	wantStreamError(t, c, "not-authorized", "identity provider")
}

// TestTokenSessionEndsWhenTokenRevoked: an OAUTHBEARER session is re-checked
// by introspection while its token is valid; a revoked token ends it.
func TestTokenSessionEndsWhenTokenRevoked(t *testing.T) {
	s := startStack(t, "sessions: {recheck: 1s}\n")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := s.env.IdP.PasswordToken(ctx, "bob", s.env.IdP.Users["bob"])
	if err != nil {
		t.Fatal(err)
	}
	c, _ := s.dialRaw(t, false)
	if el := c.auth("OAUTHBEARER", bearerPayload("", tok)); el.XMLName.Local != "success" {
		t.Fatalf("OAUTHBEARER login: <%s>%s", el.XMLName.Local, el.Inner)
	}
	c.open(s.env.Prosody.Domain)
	c.bind("token-desk")
	// Still vouched for after a few checks: the session goes on.
	time.Sleep(2500 * time.Millisecond)
	c.send("<iq type='get' id='ping2'><ping xmlns='urn:xmpp:ping'/></iq>")
	if el := c.next(); el.attr("id") != "ping2" {
		t.Fatalf("session with a good token: got <%s>%s", el.XMLName.Local, el.Inner)
	}
	if err := s.env.IdP.Revoke(ctx, tok); err != nil {
		t.Fatal(err)
	}
	wantStreamError(t, c, "not-authorized", "identity provider")
}

// TestRevokeFromAnotherProcessEndsSession: the operator's command opens the
// same SQLite file in another process; its revocation reaches the running
// proxy, which ends the session logged in with that app password.
func TestRevokeFromAnotherProcessEndsSession(t *testing.T) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	path := filepath.Join(t.TempDir(), "credentials.db")
	secret := base64.StdEncoding.EncodeToString(key)
	s := startStack(t, fmt.Sprintf("store: {path: %q, secret_key: %q}\n", path, secret))
	ap, pw := s.newAppPassword(t, "alice", s.env.IdP.Users["alice"], "kiosk")
	c := s.loginPlain(t, "alice", pw)
	c.open(s.env.Prosody.Domain)
	c.bind("kiosk")

	cfg := config.Default()
	cfg.Store.Path, cfg.Store.SecretKey = path, secret
	other, err := app.OpenStore(&cfg) // as `xmpp-oauth-proxy app-passwords revoke` does
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := other.Revoke(ctx, s.jid("alice"), ap.ID); err != nil {
		t.Fatal(err)
	}
	wantStreamError(t, c, "not-authorized", "app password or device was revoked")
}
