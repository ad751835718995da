package testenv

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

// TestCloseLeavesNoProcesses starts a private environment, closes it and
// checks that no process of either service group is left.
func TestCloseLeavesNoProcesses(t *testing.T) {
	if err := checkInstalled(); err != nil && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	env, err := Start(ctx, Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range env.procs() {
		pids = append(pids, p.Pid())
	}
	if len(pids) != 2 {
		t.Fatalf("want 2 service pids, got %v", pids)
	}
	for _, pid := range pids {
		if err := syscall.Kill(-pid, 0); err != nil {
			t.Fatalf("process group %d not running before Close: %v", pid, err)
		}
	}
	if err := env.Close(); err != nil {
		t.Fatal(err)
	}
	if err := env.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, pid := range pids {
		if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process group %d still exists after Close (kill 0: %v)", pid, err)
		}
	}
	if _, err := os.Stat(env.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary dir %s not removed: %v", env.Dir, err)
	}
}

// TestStartReusesDir starts twice in the same given Dir, as a demo restart
// would, and checks that Close keeps a caller's Dir.
func TestStartReusesDir(t *testing.T) {
	if err := checkInstalled(); err != nil && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	dir := t.TempDir()
	for range 2 {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		env, err := Start(ctx, Options{Dir: dir, Users: map[string]string{"frank": "frank-pw", "alice": "other-pw"}})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if env.IdP.Users["frank"] != "frank-pw" || env.IdP.Users["alice"] != "other-pw" || env.IdP.Users["bob"] == "" {
			t.Errorf("users = %v, want defaults plus Options.Users", env.IdP.Users)
		}
		if _, err := env.IdP.PasswordToken(t.Context(), "frank", "frank-pw"); err != nil {
			t.Error(err)
		}
		if err := env.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("Close removed the caller's dir: %v", err)
		}
	}
}
