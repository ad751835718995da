package testenv

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// PortalSignIn opens the self-service page at portalURL (its public URL),
// signs user in at Glewlwyd and waits for the signed-in page. The client's
// redirect URI must be registered (AllowRedirectURI).
func (g *Glewlwyd) PortalSignIn(b *Browser, portalURL, user, password string) error {
	if err := chromedp.Do(b.Ctx, chromedp.Navigate(strings.TrimSuffix(portalURL, "/")+"/login")); err != nil {
		return fmt.Errorf("open the portal: %w", err)
	}
	if err := g.SignInWithBrowser(b, user, password); err != nil {
		return err
	}
	if err := chromedp.Do(b.Ctx, chromedp.WaitVisible(chromedp.ID("label"))); err != nil {
		return fmt.Errorf("portal page after sign-in: %w", err)
	}
	return nil
}

// PortalCreateAppPassword fills the signed-in page's "New app password"
// form and returns the password the page shows once. The browser stays on
// that page.
func PortalCreateAppPassword(b *Browser, label string) (string, error) {
	err := chromedp.Do(b.Ctx,
		chromedp.WaitVisible(chromedp.ID("label")),
		chromedp.SendKeys(chromedp.ID("label"), label),
		chromedp.Click(chromedp.ID("create")),
		chromedp.WaitVisible(chromedp.ID("app-password")),
	)
	if err != nil {
		return "", fmt.Errorf("create an app password: %w", err)
	}
	pw, err := chromedp.Run(b.Ctx, chromedp.Text(chromedp.ID("app-password")))
	if err != nil || pw == "" {
		return "", fmt.Errorf("read the new app password: %v", err)
	}
	return pw, nil
}

// BrowserAppPassword is the whole user journey in one call, for end-to-end
// tests: a fresh headless browser signs user in on the portal at portalURL
// (through Glewlwyd's login page) and returns a new app password labelled
// label. Skipped without chromium, failed on CI.
func (g *Glewlwyd) BrowserAppPassword(t testing.TB, portalURL, user, password, label string) string {
	t.Helper()
	b := RequireBrowser(t, 1280, 900)
	ctx, cancel := context.WithTimeout(b.Ctx, 60*time.Second)
	defer cancel()
	b.Ctx = ctx
	if err := g.PortalSignIn(b, portalURL, user, password); err != nil {
		t.Fatal(err)
	}
	pw, err := PortalCreateAppPassword(b, label)
	if err != nil {
		t.Fatal(err)
	}
	return pw
}
