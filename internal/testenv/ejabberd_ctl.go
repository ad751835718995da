package testenv

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// ctl runs an ejabberdctl command against this node: a hidden Erlang node
// of its own (each call boots a VM: 0.3-1.5 s) that reaches the server's
// distribution port directly. The exit code is the command's status.
func (e *Ejabberd) ctl(ctx context.Context, args ...string) (string, error) {
	argv := append([]string{"-sname", "ctl_" + randomSecret()[:12] + "@localhost", "-hidden", "-noinput",
		"-erl_epmd_port", strconv.Itoa(e.distPort), "-start_epmd", "false", "-dist_listen", "false",
		"-args_file", e.vmArgs(), "-s", "ejabberd_ctl", "-extra", e.node}, args...)
	cmd := exec.CommandContext(ctx, "erl", argv...)
	cmd.Dir = filepath.Join(e.Dir, "spool")
	cmd.Env = e.erlEnv()
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// Register creates an account, or resets its password if it exists.
func (e *Ejabberd) Register(ctx context.Context, user, password string) error {
	out, err := e.ctl(ctx, "register", user, e.Domain, password)
	if err != nil && strings.Contains(out, "conflict") {
		out, err = e.ctl(ctx, "change_password", user, e.Domain, password)
	}
	if err != nil {
		// The output never echoes the password; the arguments are left out.
		return fmt.Errorf("ejabberd register %s: %w: %s", user, err, out)
	}
	return nil
}

// UserExists asks the running server (mod_admin_extra's check_account),
// so it sees accounts made over XMPP (XEP-0133) too.
func (e *Ejabberd) UserExists(ctx context.Context, user string) (bool, error) {
	out, err := e.ctl(ctx, "check_account", user, e.Domain)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &exit) && exit.ExitCode() == 1 && out == "Error: false":
		return false, nil // anything else (no mod_admin_extra: unknown command) is an error
	default:
		return false, fmt.Errorf("ejabberd check_account %s: %w: %s", user, err, out)
	}
}

// cutJID splits local@domain.
func cutJID(jid string) (local, domain string, ok bool) { return strings.Cut(jid, "@") }
