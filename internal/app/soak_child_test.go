package app_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/app"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/config"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/logging"
)

// The soak's proxy runs in a child process (this test binary again) so that
// its heap and goroutines are the proxy's alone and signals reach only it.
const envSoakProxyConfig = "APP_SOAK_PROXY_CONFIG"

// TestHelperSoakProxyProcess is the soak's proxy; it skips unless started by
// it. It runs like `serve` (SIGTERM drains and stops, SIGHUP reloads the
// certificates), answers each "mem" line on stdin with "MEM heapAlloc
// goroutines" after GC, and prints "EXIT <error or ok>" when Run returns.
func TestHelperSoakProxyProcess(t *testing.T) {
	path := os.Getenv(envSoakProxyConfig)
	if path == "" {
		t.Skip("helper process for TestSoak")
	}
	if os.Getenv("SOAK_HEAPPROFILE") != "" {
		runtime.MemProfileRate = 1 // every allocation: the profile explains the heap figure
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	log, err := logging.New(os.Stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			a.Reload()
		}
	}()
	go func() {
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			if path, ok := strings.CutPrefix(in.Text(), "prof "); ok {
				runtime.GC()
				if f, err := os.Create(path); err == nil {
					_ = pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
				continue
			}
			if in.Text() == "mem" {
				var ms runtime.MemStats
				runtime.GC()
				runtime.GC()
				runtime.ReadMemStats(&ms)
				fmt.Printf("MEM %d %d\n", ms.HeapAlloc, runtime.NumGoroutine())
			}
		}
	}()
	err = a.Run(ctx)
	if err == nil {
		fmt.Println("EXIT ok")
	} else {
		fmt.Printf("EXIT %v\n", err)
	}
}

// soakChild is the running proxy; lines carries its stdout (MEM and EXIT).
type soakChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	exit  chan error
}

func startSoakChild(t *testing.T, configPath string, logs io.Writer) *soakChild {
	t.Helper()
	cmd, stdin, stdout := startHelper(t, "TestHelperSoakProxyProcess", envSoakProxyConfig+"="+configPath, logs)
	c := &soakChild{cmd: cmd, stdin: stdin, lines: make(chan string, 16), exit: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "MEM ") || strings.HasPrefix(l, "EXIT ") {
				c.lines <- l
			}
		}
		c.exit <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return c
}

// mem asks the child for its live heap and goroutines, after GC.
func (c *soakChild) mem() (heap, goroutines int64, err error) {
	if _, err := fmt.Fprintln(c.stdin, "mem"); err != nil {
		return 0, 0, err
	}
	select {
	case l := <-c.lines:
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != "MEM" {
			return 0, 0, fmt.Errorf("child said %q", l)
		}
		heap, _ = strconv.ParseInt(f[1], 10, 64)
		goroutines, _ = strconv.ParseInt(f[2], 10, 64)
		return heap, goroutines, nil
	case <-time.After(30 * time.Second):
		return 0, 0, fmt.Errorf("child gave no memory figures")
	}
}

// signal sends sig to the child.
func (c *soakChild) signal(sig os.Signal) error { return c.cmd.Process.Signal(sig) }
