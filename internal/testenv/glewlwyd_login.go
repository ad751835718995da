package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/chromedp/chromedp"
)

// loginPageState tells what Glewlwyd's login webapp shows: "left" once
// the browser is off Glewlwyd's origin, "grant" (consent checkboxes),
// "otp" (the one-time password form), "continue" (the button that
// completes the flow), "login" (the password form), else "wait".
const loginPageState = `(() => {
  if (location.origin !== %q) return 'left';
  if (document.querySelector('input[id^="grant-"]')) return 'grant';
  if (document.getElementById('otpSchemeForm')) return 'otp';
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
// relying party's redirect URI). A second-factor prompt is an error.
func (g *Glewlwyd) SignInWithBrowser(b *Browser, user, password string) error {
	_, err := g.signInWithBrowser(b, user, password, "")
	return err
}

// SignInWithBrowserTOTP is SignInWithBrowser for a user with a TOTP second
// factor (AddTOTPUser): it also types the current code. It fails if
// Glewlwyd never asked for one.
func (g *Glewlwyd) SignInWithBrowserTOTP(b *Browser, user, password, totpSecret string) error {
	asked, err := g.signInWithBrowser(b, user, password, totpSecret)
	if err == nil && !asked {
		err = errors.New("testenv: glewlwyd signed the user in without asking for the second factor")
	}
	return err
}

// signInWithBrowser drives the login page until the browser leaves it and
// reports whether the one-time password form was shown.
func (g *Glewlwyd) signInWithBrowser(b *Browser, user, password, totpSecret string) (otpAsked bool, err error) {
	if g.LoginURL == "" {
		return false, fmt.Errorf("%w: Glewlwyd serves no login page (webapp missing)", ErrUnavailable)
	}
	u, _ := url.Parse(g.LoginURL)
	probe := fmt.Sprintf(loginPageState, u.Scheme+"://"+u.Host)
	ctx := b.Ctx
	typed := false
	lastStep := int64(-1) // the TOTP step whose code was typed: Glewlwyd takes each once
	stable := 0           // consecutive probes that saw Continue
	for {
		state, err := chromedp.Run(ctx, chromedp.Evaluate[string](probe))
		if err != nil {
			if ctx.Err() != nil {
				return otpAsked, fmt.Errorf("glewlwyd sign-in of %s: %w", user, ctx.Err())
			}
			state = "wait" // navigating
		}
		if state != "continue" {
			stable = 0
		}
		switch state {
		case "left":
			return otpAsked, nil
		case "login":
			if !typed {
				if err := chromedp.Do(ctx,
					chromedp.SendKeys(chromedp.ID("username"), user),
					chromedp.SendKeys(chromedp.ID("password"), password),
					chromedp.Click(chromedp.ID("loginbut")),
				); err != nil {
					return otpAsked, fmt.Errorf("glewlwyd login form: %w", err)
				}
				typed = true
			} // else still submitting; a refused password ends at ctx's deadline
		case "otp":
			otpAsked = true
			if totpSecret == "" {
				return true, errors.New("testenv: glewlwyd asks for a second factor")
			}
			now := time.Now()
			if now.Unix()/totpStep != lastStep {
				lastStep = now.Unix() / totpStep
				if err := typeOTP(ctx, totp(totpSecret, now)); err != nil {
					return true, err
				}
			} // else the code of this step was typed: wait for the next step or the page to move on
		case "grant":
			if err := grantScopes(ctx); err != nil {
				return otpAsked, err
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
			return otpAsked, fmt.Errorf("glewlwyd sign-in of %s: %w", user, ctx.Err())
		case <-time.After(browserPoll):
		}
	}
}

// grantScopes ticks every scope on the consent screen and grants them.
func grantScopes(ctx context.Context) error {
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
	return nil
}

// typeOTP replaces whatever the one-time password field holds and submits.
func typeOTP(ctx context.Context, code string) error {
	err := chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#otpSchemeForm #value').select()`),
		chromedp.SendKeys(chromedp.CSS(`#otpSchemeForm #value`), code),
		chromedp.Click(chromedp.CSS(`#otpSchemeForm #but`)),
	)
	if err != nil {
		return fmt.Errorf("glewlwyd one-time password form: %w", err)
	}
	return nil
}
