package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// process is one running service whose output goes to a log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	done    chan struct{} // closed when the process has been reaped
	waitErr error

	killOnce sync.Once
}

// startProcess starts a service in its own process group with stdout and
// stderr written to logPath (truncated: only the latest attempt matters).
func startProcess(name, logPath string, cmd *exec.Cmd) (*process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	attr := sysProcAttr()
	if cmd.SysProcAttr != nil {
		attr.Credential = cmd.SysProcAttr.Credential // e.g. PostgreSQL, which refuses root
	}
	cmd.SysProcAttr = attr
	if err := startOnForkThread(cmd); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, logFile: f, done: make(chan struct{})}
	go p.reap()
	return p, nil
}

// The parent-death signal fires when the forking *thread* ends, not the
// process (golang/go#27505). Go ends a thread when a goroutine locked to it
// returns, so every service is forked from one locked goroutine that never
// returns.
var forkThread = sync.OnceValue(func() chan<- func() {
	ch := make(chan func())
	go forkLoop(ch)
	return ch
})

func forkLoop(ch <-chan func()) {
	runtime.LockOSThread() // never unlocked: the thread must outlive the children
	for f := range ch {
		f()
	}
}

func startOnForkThread(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	forkThread() <- func() { errc <- cmd.Start() }
	return <-errc
}

// reap is a named function so the goroutine is recognisable in stack dumps.
func (p *process) reap() {
	p.waitErr = p.cmd.Wait()
	p.logFile.Close()
	close(p.done)
}

// Pid is the process id, which is also its process group id.
func (p *process) Pid() int { return p.cmd.Process.Pid }

// procs are the started services, for Close and the tests.
func (e *Env) procs() []*process {
	var out []*process
	if e.Prosody != nil && e.Prosody.proc != nil {
		out = append(out, e.Prosody.proc)
	}
	if e.IdP != nil && e.IdP.proc != nil {
		out = append(out, e.IdP.proc)
	}
	return out
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL to the whole process group and waits until the
// service is reaped. Test data is disposable, so there is no graceful stop.
// A nil process (never started) is a no-op.
func (p *process) kill() {
	if p == nil {
		return
	}
	p.killOnce.Do(func() {
		_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
	})
}

// tail returns the last lines of the service's log for error messages.
func (p *process) tail() string { return tailFile(p.logPath, 30) }

func tailFile(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	b = bytes.TrimRight(b, "\n")
	for i, n := len(b)-1, 0; i >= 0; i-- {
		if b[i] == '\n' {
			if n++; n == lines {
				b = b[i+1:]
				break
			}
		}
	}
	return string(b)
}

// errf wraps err with the service name and the tail of its log.
func (p *process) errf(err error) error {
	return fmt.Errorf("%s: %w\n--- %s (last lines) ---\n%s", p.name, err, p.logPath, p.tail())
}

var errExited = errors.New("process exited during start-up")

// waitReady polls ready until it reports the service up, the process
// exits, ready fails, or ctx ends. Polling is short so start-up costs what
// the service needs and no more.
func (p *process) waitReady(ctx context.Context, ready func(context.Context) (bool, error)) error {
	for {
		if p.exited() {
			return p.errf(fmt.Errorf("%w (%v)", errExited, p.waitErr))
		}
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		ok, err := ready(pctx)
		cancel()
		if err != nil {
			return p.errf(err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return p.errf(fmt.Errorf("not ready: %w", ctx.Err()))
		case <-p.done:
		case <-time.After(15 * time.Millisecond):
		}
	}
}

// pickPorts is freePorts; tests replace it to force a bind collision.
var pickPorts = freePorts

// freePorts returns n distinct loopback ports that were free a moment ago.
// All listeners stay open until every port is chosen, so they differ.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []io.Closer
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
