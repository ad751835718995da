package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// RequireWebClients returns the directory of the pinned web clients
// (tools/webclients: @xmpp/client, Converse.js) with its node_modules
// installed by scripts/setup-webclients.sh. Skipped without node or the
// packages, except on CI (CI=true) where that fails the test.
func RequireWebClients(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "tools", "webclients")
	var err error
	if _, lerr := exec.LookPath("node"); lerr != nil {
		err = fmt.Errorf("%w: no node on PATH; run scripts/setup-debian.sh", ErrUnavailable)
	} else if _, serr := os.Stat(filepath.Join(dir, "node_modules", "@xmpp", "client")); serr != nil {
		err = fmt.Errorf("%w: %s has no node_modules; run scripts/setup-webclients.sh", ErrUnavailable, dir)
	}
	skipOrFail(t, err)
	return dir
}
