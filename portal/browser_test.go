package portal

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"
	"golang.org/x/oauth2"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/credstore"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/oauthx"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// screenshotDir is where the browser test leaves its PNGs: docs/ with
// PORTAL_SCREENSHOTS=docs (make screenshots), else a temporary directory.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("PORTAL_SCREENSHOTS"); d != "" {
		if !filepath.IsAbs(d) {
			d = filepath.Join("..", d) // tests run in portal/
		}
		return d
	}
	return t.TempDir()
}

// livePortal is the portal in front of the real Glewlwyd, on a loopback port
// registered as the client's redirect URI.
// scope is what the page asks the IdP for ("" : the IdP's default set).
func livePortal(t *testing.T, env *testenv.Env, scope string) (publicURL string, store *credstore.Store, logs *testenv.LogBuffer) {
	if scope == "" {
		scope = env.IdP.Scope
	}
	logs = new(testenv.LogBuffer)
	log := zerolog.New(logs)
	idp := startOAuth(t, oauthx.Config{DiscoveryURL: env.IdP.DiscoveryURL, ClientID: env.IdP.ClientID,
		ClientSecret: env.IdP.ClientSecret, Scope: scope, Timeout: 5 * time.Second, Logger: log})
	store = openStore(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	publicURL = "http://" + ln.Addr().String()
	if err := env.IdP.AllowRedirectURI(t.Context(), publicURL+"/callback"); err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{PublicURL: publicURL, Domain: env.Prosody.Domain, ServerHost: "xmpp.example.org",
		Ports: []Port{{Port: 5222}, {Port: 5223, DirectTLS: true}}, IdP: idp, Store: store, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(h)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return publicURL, store, logs
}

// TestPortalInBrowser signs in through Glewlwyd's own login page in a real
// Chromium, creates app passwords, reads one off the page and revokes it,
// taking a screenshot of every page on the way.
func TestPortalInBrowser(t *testing.T) {
	env := testenv.Require(t)
	publicURL, store, logs := livePortal(t, env, "")
	user, password := "portaluser", "portaluser-password"
	if err := env.IdP.AddUser(t.Context(), user, password); err != nil {
		t.Fatal(err)
	}
	jid := user + "@" + env.Prosody.Domain
	b := testenv.RequireBrowser(t, 1280, 900)
	tab := b.Ctx
	ctx, cancel := context.WithTimeout(tab, 60*time.Second)
	defer cancel()
	b.Ctx = ctx
	shots := screenshotDir(t)
	shot := func(name string) {
		t.Helper()
		if err := b.Screenshot(filepath.Join(shots, "portal-"+name+".png")); err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(publicURL+"/"), chromedp.WaitVisible(chromedp.ID("signin"))); err != nil {
		t.Fatal(err)
	}
	shot("signin")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("signin")), chromedp.WaitVisible(chromedp.ID("username"))); err != nil {
		failPage(t, tab, logs, err)
	}
	shot("idp-login") // Glewlwyd's own page: the portal never sees this password
	if err := env.IdP.SignInWithBrowser(b, user, password); err != nil {
		failPage(t, tab, logs, err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("label"))); err != nil {
		failPage(t, tab, logs, err)
	}
	first, err := testenv.PortalCreateAppPassword(b, "Phone – Conversations")
	if err != nil {
		t.Fatal(err)
	}
	shot("created")
	v, err := store.Verify(t.Context(), jid, first, "203.0.113.9")
	if err != nil || v.Label != "Phone – Conversations" {
		t.Fatalf("Verify(the password the page showed) = %+v, %v", v, err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("done")), chromedp.WaitVisible(chromedp.ID("label"))); err != nil {
		t.Fatal(err)
	}
	if _, err := testenv.PortalCreateAppPassword(b, "Laptop – Dino"); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("done")), chromedp.WaitVisible(chromedp.ID("label"))); err != nil {
		t.Fatal(err)
	}
	page, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{jid, "Phone – Conversations", "Laptop – Dino", "from 203.0.113.9", "xmpp.example.org"} {
		if !strings.Contains(page, want) {
			t.Errorf("the signed-in page lacks %q", want)
		}
	}
	shot("home")
	unlabelled, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll('input:not([type=hidden]), button')]
	  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim()).length`))
	if err != nil || unlabelled != 0 {
		t.Errorf("%d inputs or buttons without a label or name (%v)", unlabelled, err)
	}
	if err := b.Viewport(390, 844); err != nil {
		t.Fatal(err)
	}
	shot("home-phone")
	if err := b.Viewport(1280, 900); err != nil {
		t.Fatal(err)
	}

	// The grant holds the sign-in's refresh token, and Glewlwyd honours it.
	grants, err := store.GrantsDueForRecheck(t.Context(), time.Now().Add(time.Hour), 10)
	if err != nil || len(grants) != 1 {
		t.Fatalf("grants: %d, %v; want the one of this sign-in", len(grants), err)
	}
	conf := oauth2.Config{ClientID: env.IdP.ClientID, ClientSecret: env.IdP.ClientSecret,
		Endpoint: oauth2.Endpoint{TokenURL: env.IdP.TokenURL, AuthStyle: oauth2.AuthStyleInHeader}}
	if _, err := conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: grants[0].RefreshToken.Reveal()}).Token(); err != nil {
		t.Fatalf("refreshing the stored grant at Glewlwyd: %v", err)
	}

	// Revoke the first password with its button.
	revoke := `//tr[th[normalize-space()='Phone – Conversations']]//button[normalize-space()='Revoke']`
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.Search(revoke)), chromedp.WaitVisible(chromedp.CSS(".notice"))); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Verify(t.Context(), jid, first, "203.0.113.9"); !errors.Is(err, credstore.ErrRevoked) {
		t.Fatalf("Verify after Revoke in the browser: %v, want ErrRevoked", err)
	}

	// An answer from the IdP this browser did not ask for.
	if err := chromedp.Do(ctx, chromedp.Navigate(publicURL+"/callback?state=forged&code=forged"),
		chromedp.WaitVisible(chromedp.CSS(".error"))); err != nil {
		t.Fatal(err)
	}
	shot("error")
	if err := b.Viewport(390, 844); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(publicURL+"/"), chromedp.WaitVisible(chromedp.ID("label")),
		chromedp.SendKeys(chromedp.ID("label"), "Tablet"), chromedp.Click(chromedp.ID("create")),
		chromedp.WaitVisible(chromedp.ID("app-password"))); err != nil {
		t.Fatal(err)
	}
	shot("created-phone")

	if strings.Contains(logs.String(), first) {
		t.Error("an app password reached the logs")
	}
	t.Logf("screenshots in %s", shots)
}

// TestPortalSignInWithSecondFactor: a user whose IdP sign-in needs a TOTP
// code gets through the page with it (the proxy never sees either factor)
// and leaves with an app password.
func TestPortalSignInWithSecondFactor(t *testing.T) {
	env := testenv.Require(t)
	user, password := "portal-mfa", "portal-mfa-password"
	secret, err := env.IdP.AddTOTPUser(t.Context(), user, password)
	if err != nil {
		t.Fatal(err)
	}
	publicURL, store, logs := livePortal(t, env, "openid xmpp "+testenv.MFAScope)
	b := testenv.RequireBrowser(t, 1280, 900)
	tab := b.Ctx
	ctx, cancel := context.WithTimeout(tab, 90*time.Second)
	defer cancel()
	b.Ctx = ctx
	if err := chromedp.Do(ctx, chromedp.Navigate(publicURL+"/login")); err != nil {
		t.Fatal(err)
	}
	if err := env.IdP.SignInWithBrowserTOTP(b, user, password, secret); err != nil {
		failPage(t, tab, logs, err)
	}
	pw, err := testenv.PortalCreateAppPassword(b, "Phone")
	if err != nil {
		failPage(t, tab, logs, err)
	}
	if _, err := store.Verify(t.Context(), user+"@"+env.Prosody.Domain, pw, "203.0.113.10"); err != nil {
		t.Fatalf("Verify(the password the page showed) after a two-factor sign-in: %v", err)
	}
}

// failPage ends the test with where the browser is, what it shows and the
// portal's log.
func failPage(t *testing.T, tab context.Context, logs *testenv.LogBuffer, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	t.Fatalf("%v\nbrowser at %s, showing:\n%.600s\nportal log:\n%s", err, loc, text, logs.String())
}

// The sign-in page and the static files answer before any sign-in.
func TestPortalServesStatic(t *testing.T) {
	x := newHarness(t)
	for _, p := range []string{"/static/portal.css", "/static/copy.js"} {
		resp, body := x.get(p)
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("%s: %s", p, resp.Status)
		}
	}
}
