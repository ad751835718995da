package app_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"mellium.im/sasl"
	"mellium.im/xmpp/stanza"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// TestPortalJourney is the whole user story against the real Glewlwyd (its own
// login page), Prosody and Chromium: sign in on the proxy's page, create an
// app password, log in with it from go-sendxmpp (a message arrives) and from
// a second client, revoke it with the page's button: the live session ends
// with a stream error and the password stops working. The IdP's own password
// does not work over PLAIN, since the password grant is off (the MFA case).
func TestPortalJourney(t *testing.T) {
	env := testenv.Require(t)
	setup, err := env.PortalConfig(t.Context(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	yaml := strings.Replace(env.ProxyConfig(listenAny, setup.Extra), "oauth:\n", "oauth:\n  resource_owner_password: false\n", 1)
	s := startStackFor(t, env, yaml)
	user, password := "journey", "journey-idp-password"
	if err := env.IdP.AddUser(t.Context(), user, password); err != nil {
		t.Fatal(err)
	}

	b := testenv.RequireBrowser(t, 1280, 900)
	ctx, cancel := context.WithTimeout(b.Ctx, 90*time.Second)
	defer cancel()
	b.Ctx = ctx
	if err := env.IdP.PortalSignIn(b, setup.PublicURL, user, password); err != nil {
		t.Fatal(err)
	}
	appPW, err := testenv.PortalCreateAppPassword(b, "Journey phone")
	if err != nil {
		t.Fatal(err)
	}

	c, _ := s.dialRaw(t, false)
	wantFailure(t, c.auth("PLAIN", plainPayload("", user, password)), "not-authorized")

	bob, bobIn := s.melliumSession(t, "bob", "desk", s.newBobAppPassword(t), sasl.Plain)
	if err := bob.Send(ctx, stanza.Presence{}.Wrap(nil)); err != nil {
		t.Fatal(err)
	}
	bin, err := exec.LookPath("go-sendxmpp")
	if err != nil {
		t.Fatal("go-sendxmpp missing (scripts/setup-debian.sh installs it)")
	}
	cmd := exec.CommandContext(ctx, bin, "-u", s.jid(user), "-p", appPW, "-j", s.starttls, "-n", "--timeout", "10", s.jid("bob"))
	cmd.Stdin = strings.NewReader("made on the self-service page")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go-sendxmpp with the page's app password: %v\n%s", err, out)
	}
	receive(t, bobIn.messages, "the message", func(m string) bool { return m == "made on the self-service page" })

	live := s.loginPlain(t, user, appPW)
	live.open(env.Prosody.Domain)
	live.bind("phone")

	revoke := `//tr[th[normalize-space()='Journey phone']]//button[normalize-space()='Revoke']`
	if err := chromedp.Do(ctx, chromedp.Navigate(setup.PublicURL+"/"), chromedp.Click(chromedp.Search(revoke)),
		chromedp.WaitVisible(chromedp.CSS(".notice"))); err != nil {
		t.Fatalf("revoke on the page: %v", err)
	}
	wantStreamError(t, live, "not-authorized", "app password or device was revoked")
	c2, _ := s.dialRaw(t, false)
	wantFailure(t, c2.auth("PLAIN", plainPayload("", user, appPW)), "not-authorized")
	if strings.Contains(s.logs.String(), appPW) {
		t.Error("the app password reached the proxy's log")
	}
}
