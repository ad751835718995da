package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// EjabberdInstallHint tells how to install what StartEjabberd needs on Debian.
const EjabberdInstallHint = `DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ejabberd`

// Ejabberd is a throwaway, unchanged ejabberd (Debian's 23.01): its own
// config, Mnesia spool, logs, Erlang node name, cookie and distribution port
// in a temporary directory, every port on loopback, no epmd.
type Ejabberd struct {
	// ServerInfo's AdminJID is in the config's admin ACL, which the
	// "configure" access rule of mod_configure (XEP-0133) allows.
	ServerInfo
	Dir        string
	ConfigPath string

	node string // Erlang node name, ejabberd_<random>@localhost
	// config, when set, replaces the generated ejabberd.yml (tests of
	// documented configs); it gets the listener ports.
	config   func(e *Ejabberd, c2sPort, tlsPort int) string
	distPort int    // Erlang distribution; ctl commands connect here
	erlLibs  string // ERL_LIBS: the directory holding ejabberd-<version>/
	proc     *process
}

// ejabberdLibs finds erl and the directory Debian puts ejabberd's Erlang
// application in (/usr/lib/<triplet>/ejabberd-<version>), as ejabberdctl's
// ERL_LIBS does.
func ejabberdLibs() (string, error) {
	_, errErl := exec.LookPath("erl")
	apps, _ := filepath.Glob("/usr/lib/*/ejabberd-*/ebin/ejabberd.app")
	if errErl != nil || len(apps) == 0 {
		return "", fmt.Errorf("%w: no erl or ejabberd application; install with: %s", ErrUnavailable, EjabberdInstallHint)
	}
	return filepath.Dir(filepath.Dir(filepath.Dir(apps[0]))), nil
}

// StartEjabberd starts ejabberd on free loopback ports in a new temporary
// directory and registers the admin account. Close stops it and removes
// the directory.
func StartEjabberd(ctx context.Context, logf func(string, ...any)) (*Ejabberd, error) {
	return startEjabberdIn(ctx, "", logf, nil)
}

// startEjabberdIn is StartEjabberd with its directory made in parent ("":
// the system's temporary directory), and config (nil: the generated one).
func startEjabberdIn(ctx context.Context, parent string, logf func(string, ...any), config func(*Ejabberd, int, int) string) (*Ejabberd, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	libs, err := ejabberdLibs()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	dir, err := os.MkdirTemp(parent, "testenv-ejabberd-")
	if err != nil {
		return nil, err
	}
	began := time.Now()
	e, err := newEjabberd(dir, libs)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	e.config = config
	for attempt := 1; ; attempt++ {
		ports, err := pickPorts(3)
		if err != nil {
			e.Close()
			return nil, err
		}
		if err = e.writeConfig(ports[0], ports[1], ports[2]); err == nil {
			err = e.start(ctx)
		}
		if err == nil {
			break
		}
		e.proc.kill() // SIGKILL: a SIGTERM while Mnesia starts can dump core and take 13 s
		if attempt == startAttempts || ctx.Err() != nil {
			e.Close()
			return nil, err
		}
		logf("testenv: ejabberd start failed, retrying with new ports: %v", err)
		e.proc = nil
		// A start killed half-way may leave a Mnesia spool the next one trips on.
		spool := filepath.Join(dir, "spool")
		if err := errors.Join(os.RemoveAll(spool), os.MkdirAll(spool, 0o700)); err != nil {
			e.Close()
			return nil, err
		}
	}
	admin, _, _ := cutJID(e.AdminJID)
	if err := e.Register(ctx, admin, e.AdminPassword); err != nil {
		e.Close()
		return nil, err
	}
	logf("testenv: ejabberd up in %v on %s (STARTTLS) and %s (direct TLS) (dir %s)",
		time.Since(began).Round(time.Millisecond), e.C2SAddr, e.DirectTLSAddr, dir)
	return e, nil
}

// newEjabberd lays out dir (certificate, directories) without starting it.
func newEjabberd(dir, libs string) (*Ejabberd, error) {
	e := &Ejabberd{
		ServerInfo: ServerInfo{
			Name:          ServerEjabberd,
			Domain:        "localhost",
			CertFile:      filepath.Join(dir, "etc", "localhost.crt"),
			KeyFile:       filepath.Join(dir, "etc", "localhost.key"),
			AdminJID:      "admin@localhost",
			AdminPassword: randomSecret(),
		},
		Dir:        dir,
		ConfigPath: filepath.Join(dir, "etc", "ejabberd.yml"),
		node:       "ejabberd_" + randomSecret()[:12] + "@localhost",
		erlLibs:    libs,
	}
	for _, d := range []string{"etc", "spool", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	cert, err := newSelfSigned(e.Domain)
	if err != nil {
		return nil, err
	}
	if err := cert.write(e.CertFile, e.KeyFile); err != nil {
		return nil, err
	}
	// ejabberd reads certificate and key from one PEM file.
	both := append(append([]byte{}, cert.CertPEM...), cert.KeyPEM...)
	if err := os.WriteFile(e.pemFile(), both, 0o600); err != nil {
		return nil, err
	}
	// /etc/ejabberd/inetrc is not readable by others: our own copy. It
	// makes "localhost" (the node names' host) resolve without DNS.
	inetrc := "{lookup,[\"file\",\"native\"]}.\n{host,{127,0,0,1}, [\"localhost\"]}.\n{file, resolv, \"/etc/resolv.conf\"}.\n"
	if err := os.WriteFile(filepath.Join(dir, "etc", "inetrc"), []byte(inetrc), 0o644); err != nil {
		return nil, err
	}
	// The cookie lives in a file (-args_file) read by the server and by
	// every ctl client; it also shows in ps, which is fine for a test node.
	vmArgs := fmt.Sprintf("-setcookie %s\n-kernel inet_dist_use_interface {127,0,0,1}\n", randomSecret())
	return e, os.WriteFile(e.vmArgs(), []byte(vmArgs), 0o600)
}

func (e *Ejabberd) pemFile() string { return filepath.Join(e.Dir, "etc", "localhost.pem") }
func (e *Ejabberd) vmArgs() string  { return filepath.Join(e.Dir, "etc", "vm.args") }

// erlEnv is the environment ejabberdctl would export, minus su and epmd.
func (e *Ejabberd) erlEnv() []string {
	return append(os.Environ(), "HOME="+e.Dir, "ERL_LIBS="+e.erlLibs, "ERL_CRASH_DUMP_BYTES=0",
		"EJABBERD_CONFIG_PATH="+e.ConfigPath, "EJABBERD_LOG_PATH="+filepath.Join(e.Dir, "logs", "ejabberd.log"),
		"ERL_INETRC="+filepath.Join(e.Dir, "etc", "inetrc"))
}

// start runs erl itself (not ejabberdctl, which as root switches to the
// ejabberd user through su, and killing su orphans beam.smp): erl execs
// beam.smp, so the pid we hold is the server's and SIGTERM stops it.
func (e *Ejabberd) start(ctx context.Context) error {
	cmd := exec.Command("erl", "-sname", e.node, "-noinput", "+K", "true", "+P", "250000",
		"-erl_epmd_port", strconv.Itoa(e.distPort), "-start_epmd", "false",
		"-args_file", e.vmArgs(), "-mnesia", "dir", strconv.Quote(filepath.Join(e.Dir, "spool")),
		"-s", "ejabberd")
	cmd.Dir = filepath.Join(e.Dir, "spool")
	cmd.Env = e.erlEnv()
	proc, err := startProcess("ejabberd", filepath.Join(e.Dir, "logs", "stdout.log"), cmd)
	if err != nil {
		return err
	}
	e.proc = proc
	// The port listens while modules still load: only features mean ready.
	return proc.waitReady(ctx, func(ctx context.Context) (bool, error) {
		return streamFeatures(ctx, e.C2SAddr, e.Domain), nil
	})
}

// Close stops ejabberd with SIGTERM (a clean shutdown takes 1-3 s), kills
// what is left after 10 s, and removes the directory. Safe on an instance
// that never started.
func (e *Ejabberd) Close() error {
	if p := e.proc; p != nil {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
		p.kill() // the group: port programs beam.smp started
	}
	return os.RemoveAll(e.Dir)
}
