package testenv

import (
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestEjabberdAdminLogin: the shared ejabberd serves STARTTLS and direct
// TLS with the environment's certificate, and its admin logs in.
func TestEjabberdAdminLogin(t *testing.T) {
	e := RequireEjabberd(t)
	user, _, _ := strings.Cut(e.AdminJID, "@")
	for _, direct := range []bool{false, true} {
		c, f := dialXMPP(t, &e.ServerInfo, direct)
		if got := c.plainLogin(user, e.AdminPassword); got != "success" {
			t.Fatalf("direct=%v: admin login: <%s> (mechanisms %v)", direct, got, f.Mechanisms)
		}
		if f := c.open(e.Domain); f.SM == nil {
			t.Error("stream management (urn:xmpp:sm:3) not offered after login")
		}
	}
	c, _ := dialXMPP(t, &e.ServerInfo, false)
	if got := c.plainLogin(user, "wrong"+e.AdminPassword); got != "failure" {
		t.Fatalf("wrong password: <%s>, want <failure/>", got)
	}
}

func TestEjabberdRegister(t *testing.T) {
	e, ctx := RequireEjabberd(t), testCtx(t)
	user := "erin." + randomSecret()[:8]
	if ok, err := e.UserExists(ctx, user); err != nil || ok {
		t.Fatalf("before Register: exists=%v err=%v", ok, err)
	}
	if err := e.Register(ctx, user, "erin-pw"); err != nil {
		t.Fatal(err)
	}
	if err := e.Register(ctx, user, "erin-pw2"); err != nil { // resets
		t.Fatal(err)
	}
	if ok, err := e.UserExists(ctx, user); err != nil || !ok {
		t.Fatalf("after Register: exists=%v err=%v", ok, err)
	}
	c, _ := dialXMPP(t, &e.ServerInfo, false)
	if got := c.plainLogin(user, "erin-pw2"); got != "success" {
		t.Fatalf("login with the reset password: <%s>", got)
	}
}

// TestEjabberdCloseLeavesNothing starts a private ejabberd, stops it and
// checks that its process group, its directory and its listeners are gone.
func TestEjabberdCloseLeavesNothing(t *testing.T) {
	if _, err := ejabberdLibs(); err != nil && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	e, err := StartEjabberd(testCtx(t), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	pid := e.proc.Pid()
	if err := syscall.Kill(-pid, 0); err != nil {
		t.Fatalf("process group %d not running before Close: %v", pid, err)
	}
	ports := []string{e.C2SAddr, e.DirectTLSAddr, "127.0.0.1:" + strconv.Itoa(e.distPort)}
	for _, addr := range ports {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatalf("%s not listening before Close: %v", addr, err)
		}
		c.Close()
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process group %d still exists after Close (kill 0: %v)", pid, err)
	}
	if ws, ok := e.proc.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signaled() {
		t.Errorf("ejabberd did not stop cleanly on SIGTERM: %v", e.proc.waitErr)
	}
	if _, err := os.Stat(e.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory %s not removed: %v", e.Dir, err)
	}
	// Its ports, the Erlang distribution's included (no epmd holds it), are free.
	for _, addr := range ports {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Close", addr)
		}
	}
}

// TestEjabberdMissingIsUnavailable: without erl, StartEjabberd reports
// ErrUnavailable with the install hint, which RequireEjabberd turns into a
// skip, or a failure on CI.
func TestEjabberdMissingIsUnavailable(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := StartEjabberd(t.Context(), nil)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), EjabberdInstallHint) {
		t.Fatalf("err = %v, want ErrUnavailable with the install hint", err)
	}
}
