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
