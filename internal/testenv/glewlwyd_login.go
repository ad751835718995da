package testenv

import (
	"fmt"
	"net/url"
	"time"

	"github.com/chromedp/chromedp"
)

// loginPageState tells what Glewlwyd's login webapp shows: "left" once
// the browser is off Glewlwyd's origin, "grant" (consent checkboxes),
// "continue" (the button that completes the flow), "login" (the password
// form), else "wait".
const loginPageState = `(() => {
  if (location.origin !== %q) return 'left';
  if (document.querySelector('input[id^="grant-"]')) return 'grant';
  const c = [...document.querySelectorAll('button.btn-success')].find(b => b.textContent.trim() === 'Continue');
  if (c) return 'continue';
  const u = document.getElementById('username');
  if (u && u.offsetParent !== null) return 'login';
  return 'wait';
})()`

const clickContinue = `(() => {
  const c = [...document.querySelectorAll('button.btn-success')].find(b => b.textContent.trim() === 'Continue');
  if (!c) return false;
  c.click();
  return true;
})()`

// SignInWithBrowser completes a sign-in on Glewlwyd's own login page, which
// the browser must be on or heading to (a relying party sent it there): it
// types the password, grants the client's scopes if asked, presses
// Continue, and returns once the browser has left Glewlwyd (back at the
// relying party's redirect URI).
func (g *Glewlwyd) SignInWithBrowser(b *Browser, user, password string) error {
	if g.LoginURL == "" {
		return fmt.Errorf("%w: Glewlwyd serves no login page (webapp missing)", ErrUnavailable)
	}
	u, _ := url.Parse(g.LoginURL)
	probe := fmt.Sprintf(loginPageState, u.Scheme+"://"+u.Host)
	ctx := b.Ctx
	typed := false
	stable := 0 // consecutive probes that saw Continue
	for {
		state, err := chromedp.Run(ctx, chromedp.Evaluate[string](probe))
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("glewlwyd sign-in of %s: %w", user, ctx.Err())
			}
			state = "wait" // navigating
		}
		if state != "continue" {
			stable = 0
		}
		switch state {
		case "left":
			return nil
		case "login":
			if typed {
				break // still submitting; a refused password ends at ctx's deadline
			}
			if err := chromedp.Do(ctx,
				chromedp.SendKeys(chromedp.ID("username"), user),
				chromedp.SendKeys(chromedp.ID("password"), password),
				chromedp.Click(chromedp.ID("loginbut")),
			); err != nil {
				return fmt.Errorf("glewlwyd login form: %w", err)
			}
			typed = true
		case "grant":
			_, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(() => { let n = 0;
			  document.querySelectorAll('input[id^="grant-"]').forEach(c => { if (!c.checked) { c.click(); n++; } });
			  return n; })()`))
			if err == nil {
				err = chromedp.Do(ctx, chromedp.Click(chromedp.Search(`//button[normalize-space()='Grant access']`)),
					chromedp.WaitNotPresent(chromedp.CSS(`input[id^="grant-"]`)))
			}
			if err != nil {
				return fmt.Errorf("glewlwyd consent screen: %w", err)
			}
		case "continue":
			// The button is drawn before the scheme status loads and may be
			// replaced; press it only once it has stayed for a few probes.
			if stable++; stable >= 6 {
				chromedp.Run(ctx, chromedp.Evaluate[bool](clickContinue))
				stable = 0
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("glewlwyd sign-in of %s: %w", user, ctx.Err())
		case <-time.After(browserPoll):
		}
	}
}
