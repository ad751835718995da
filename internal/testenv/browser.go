package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumBinary is Debian's package; setup-debian.sh installs it.
const chromiumBinary = "chromium"

// Browser is a headless Chromium driven with chromedp, with its own
// throwaway profile. Run chromedp actions on Ctx.
type Browser struct {
	Ctx     context.Context
	cancel  []context.CancelFunc
	profile string
}

// StartBrowser starts Chromium headless with a window of width x height.
// It talks to it over a pipe (no debugging port). A missing chromium
// binary is ErrUnavailable.
func StartBrowser(ctx context.Context, width, height int) (*Browser, error) {
	path, err := exec.LookPath(chromiumBinary)
	if err != nil {
		return nil, fmt.Errorf("%w: no %s on PATH; install with: apt-get install chromium", ErrUnavailable, chromiumBinary)
	}
	profile, err := os.MkdirTemp("", "testenv-chromium-")
	if err != nil {
		return nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox, // tests run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.WindowSize(width, height),
	)
	b := &Browser{profile: profile}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tab, cancelTab := chromedp.NewContext(actx)
	b.Ctx, b.cancel = tab, []context.CancelFunc{cancelTab, cancelAlloc}
	if err := chromedp.Do(tab); err != nil { // starts the browser and opens the tab
		b.Close()
		return nil, fmt.Errorf("start chromium: %w", err)
	}
	return b, nil
}

// RequireBrowser starts a browser for one test and closes it after; skipped
// without chromium, except on CI (CI=true) where that fails the test.
func RequireBrowser(t testing.TB, width, height int) *Browser {
	t.Helper()
	b, err := StartBrowser(context.Background(), width, height)
	skipOrFail(t, err)
	t.Cleanup(b.Close)
	return b
}

// Close ends the browser and removes its profile.
func (b *Browser) Close() {
	for _, c := range b.cancel {
		c()
	}
	os.RemoveAll(b.profile)
}

// Screenshot writes a PNG of the whole page to path.
func (b *Browser) Screenshot(path string) error {
	png, err := chromedp.Run(b.Ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		return err
	}
	return os.WriteFile(path, png, 0o644)
}

// Viewport emulates a screen of width x height CSS pixels (a phone:
// 390 x 844); the page is laid out again.
func (b *Browser) Viewport(width, height int64) error {
	return chromedp.Do(b.Ctx, chromedp.EmulateViewport(width, height))
}

// browserPoll is how often a driver looks at the page again while it waits
// for a script-driven page to settle.
const browserPoll = 50 * time.Millisecond
