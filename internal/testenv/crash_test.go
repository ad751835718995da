package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const crashChildEnv = "TESTENV_CRASH_CHILD_DIR"

// TestCrashChild is the child half of TestCrashedParentLeavesNoProcesses:
// it starts an Env, prints the service pids and kills itself without Close.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashedParentLeavesNoProcesses")
	}
	env, err := Start(t.Context(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var pids []string
	for _, p := range env.procs() {
		pids = append(pids, strconv.Itoa(p.Pid()))
	}
	fmt.Printf("PIDS %s\n", strings.Join(pids, " "))
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
}

// TestCrashedParentLeavesNoProcesses checks the parent-death signal: when
// the process that called Start dies without Close, the services die too.
func TestCrashedParentLeavesNoProcesses(t *testing.T) {
	if err := checkInstalled(); err != nil && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+t.TempDir())
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child should die of SIGKILL, got %v; output:\n%s", err, out)
	}
	var pids []int
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "PIDS "); ok {
			for _, f := range strings.Fields(rest) {
				pid, err := strconv.Atoi(f)
				if err != nil {
					t.Fatal(err)
				}
				pids = append(pids, pid)
			}
		}
	}
	if len(pids) != 2 {
		t.Fatalf("want 2 pids from the child, got %v; output:\n%s", pids, out)
	}
	for _, pid := range pids {
		for alive(pid) {
			select {
			case <-ctx.Done():
				t.Fatalf("service pid %d outlived its crashed parent", pid)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// alive reports whether pid exists and is not a zombie waiting for init
// (the orphan's new parent) to reap it.
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}
