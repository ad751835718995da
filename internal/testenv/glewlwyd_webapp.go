package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Glewlwyd's login page ships as a single-page webapp in the Debian package.
const (
	glewlwydWebapp       = "/usr/share/glewlwyd/webapp"
	glewlwydWebappConfig = "/etc/glewlwyd/config-2.7.json/config.json"
)

// copyWebapp copies the packaged webapp for Glewlwyd to serve itself, so a
// browser can sign in on the IdP's own page. Two traps of the package: js/,
// css/ and fonts/ are symlinks, which Glewlwyd's file server answers with
// 404 (hence cp -L), and config.json is a symlink to a directory holding
// the real file. Without the webapp it returns "" and no error.
func copyWebapp(ctx context.Context, dir string) (string, error) {
	if _, err := os.Stat(filepath.Join(glewlwydWebapp, "login.html")); err != nil {
		return "", nil
	}
	dst := filepath.Join(dir, "webapp")
	if out, err := exec.CommandContext(ctx, "cp", "-rL", glewlwydWebapp, dst).CombinedOutput(); err != nil {
		return "", fmt.Errorf("copy glewlwyd webapp: %w: %s", err, bytes.TrimSpace(out))
	}
	conf, err := os.ReadFile(glewlwydWebappConfig)
	if err != nil {
		return "", fmt.Errorf("glewlwyd webapp config: %w", err)
	}
	cfg := filepath.Join(dst, "config.json")
	if err := os.RemoveAll(cfg); err != nil {
		return "", err
	}
	return dst, os.WriteFile(cfg, conf, 0o644)
}
