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

const (
	crashChildEnv     = "TESTENV_CRASH_CHILD_DIR"
	crashChildService = "TESTENV_CRASH_CHILD_SERVICE" // "postgres", "ejabberd", or empty for Start's Env
)

// TestCrashChild is the child half of TestCrashedParentLeavesNoProcesses:
// it starts an Env or a PostgreSQL cluster, prints the service pids (and
// the cluster's directory) and kills itself without Close.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashedParentLeavesNoProcesses")
	}
	var procs []*process
	switch os.Getenv(crashChildService) {
	case "postgres":
		pg, err := StartPostgres(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("DIR %s\n", pg.Dir)
		procs = []*process{pg.proc}
	case "ejabberd":
		e, err := StartEjabberd(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("DIR %s\n", e.Dir)
		procs = []*process{e.proc}
	default:
		env, err := Start(t.Context(), Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		procs = env.procs()
	}
	var pids []string
	for _, p := range procs {
		pids = append(pids, strconv.Itoa(p.Pid()))
	}
	fmt.Printf("PIDS %s\n", strings.Join(pids, " "))
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
}

// TestCrashedParentLeavesNoProcesses checks the parent-death signal: when
// the process that started the services dies without Close, they die too
// (PostgreSQL's too, though it runs as another user when we are root;
// ejabberd's beam.smp, which erl execs, keeps the signal).
func TestCrashedParentLeavesNoProcesses(t *testing.T) {
	t.Run("prosody+glewlwyd", func(t *testing.T) {
		if err := checkInstalled(); err != nil && os.Getenv("CI") != "true" {
			t.Skip(err)
		}
		crashChildAndWait(t, "", 2)
	})
	t.Run("postgres", func(t *testing.T) {
		if _, _, err := postgresBinaries(); err != nil && os.Getenv("CI") != "true" {
			t.Skip(err)
		}
		crashChildAndWait(t, "postgres", 1)
	})
	t.Run("ejabberd", func(t *testing.T) {
		if _, err := ejabberdLibs(); err != nil && os.Getenv("CI") != "true" {
			t.Skip(err)
		}
		crashChildAndWait(t, "ejabberd", 1)
	})
}

// crashChildAndWait runs TestCrashChild for service, expects wantPids
// service pids from it and waits until all are gone.
func crashChildAndWait(t *testing.T, service string, wantPids int) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+t.TempDir(), crashChildService+"="+service)
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child should die of SIGKILL, got %v; output:\n%s", err, out)
	}
	var pids []int
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if dir, ok := strings.CutPrefix(sc.Text(), "DIR "); ok {
			// The crashed child could not remove its cluster's directory.
			t.Cleanup(func() { os.RemoveAll(dir) })
		}
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
	if len(pids) != wantPids {
		t.Fatalf("want %d pids from the child, got %v; output:\n%s", wantPids, pids, out)
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
