package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// ErrUnavailable means a binary or file the services need is not installed.
var ErrUnavailable = errors.New("testenv: services not installed")

// InstallHint tells how to install what Start needs on Debian.
const InstallHint = `echo 'glewlwyd glewlwyd/config_type select No configuration' | debconf-set-selections && ` +
	`DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prosody lua-unbound glewlwyd sqlite3`

// Options tune Start. The zero value is ready to use.
type Options struct {
	// Dir holds configs, data and logs. Empty: a new temporary directory
	// that Close removes. A given Dir is kept, but Start replaces its
	// prosody/ and glewlwyd/ subdirectories.
	Dir string
	// Users are extra IdP users, name -> password. alice, bob and carol
	// always exist; an entry here overrides their password.
	Users map[string]string
	// Logf receives progress lines. Nil: silent.
	Logf func(format string, args ...any)
	// ProsodyModules are enabled on top of the defaults (which already
	// include "smacks" and "carbons").
	ProsodyModules []string
	// Ejabberd also starts an ejabberd (Env.Ejabberd), in a directory
	// under Dir. Tests share one through RequireEjabberd instead.
	Ejabberd bool
}

// Env is a running Prosody and Glewlwyd (and ejabberd if asked for).
type Env struct {
	Prosody  *Prosody
	Ejabberd *Ejabberd // nil unless Options.Ejabberd
	IdP      *Glewlwyd
	Dir      string
	// SecretKey is the managed-credentials key of proxies that ProxyConfig
	// describes: random per Env, as a deployment's must be.
	SecretKey string

	removeDir bool
	closeOnce sync.Once
	closeErr  error
}

// defaultUsers exist in every Env's IdP, name -> password.
var defaultUsers = map[string]string{
	"alice": "alice-password",
	"bob":   "bob-password",
	"carol": "carol-password",
}

// startTimeout bounds Start when ctx has no earlier deadline.
const startTimeout = 60 * time.Second

// Start brings up Prosody and Glewlwyd on free loopback ports. On error
// everything already started is stopped again.
func Start(ctx context.Context, opts Options) (*Env, error) {
	if err := checkInstalled(); err != nil {
		return nil, err
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()

	env := &Env{Dir: opts.Dir}
	if env.Dir == "" {
		d, err := os.MkdirTemp("", "testenv-")
		if err != nil {
			return nil, err
		}
		env.Dir, env.removeDir = d, true
	}
	if abs, err := filepath.Abs(env.Dir); err == nil {
		env.Dir = abs // both servers want absolute paths
	}
	if err := os.MkdirAll(env.Dir, 0o755); err != nil {
		return nil, err
	}
	for _, sub := range []string{"prosody", "glewlwyd"} {
		// Left over from an earlier run: its database would not init.
		if err := os.RemoveAll(filepath.Join(env.Dir, sub)); err != nil {
			return nil, err
		}
	}

	env.SecretKey = randomSecret() + randomSecret()
	users := maps.Clone(defaultUsers)
	maps.Copy(users, opts.Users)
	modules := uniq(slices.Concat(defaultProsodyModules, opts.ProsodyModules))

	began := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		p, err := startProsody(gctx, filepath.Join(env.Dir, "prosody"), modules, nil, logf)
		env.Prosody = p
		return err
	})
	g.Go(func() error {
		idp, err := startGlewlwyd(gctx, filepath.Join(env.Dir, "glewlwyd"), users, logf)
		env.IdP = idp
		return err
	})
	if opts.Ejabberd {
		g.Go(func() error {
			e, err := startEjabberdIn(gctx, env.Dir, logf, nil)
			env.Ejabberd = e
			return err
		})
	}
	if err := g.Wait(); err != nil {
		env.Close()
		return nil, err
	}
	logf("testenv: up in %v: prosody c2s %s, direct TLS %s; glewlwyd %s (dir %s)",
		time.Since(began).Round(time.Millisecond), env.Prosody.C2SAddr, env.Prosody.DirectTLSAddr, env.IdP.Issuer, env.Dir)
	return env, nil
}

// checkInstalled looks for everything Start runs or reads.
func checkInstalled() error {
	var missing []string
	for _, bin := range []string{"prosody", "prosodyctl", "glewlwyd", "sqlite3"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if _, err := os.Stat(glewlwydInitSQL); err != nil {
		missing = append(missing, glewlwydInitSQL)
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing %v; install with: %s", ErrUnavailable, missing, InstallHint)
	}
	return nil
}

// startAttempts: a port picked free can be taken before the server binds
// it, so start-up is tried once more with fresh ports.
const startAttempts = 2

func startProsody(ctx context.Context, dir string, modules, pluginPaths []string, logf func(string, ...any)) (*Prosody, error) {
	cert, err := newSelfSigned("localhost")
	if err != nil {
		return nil, err
	}
	p, err := newProsody(dir, cert)
	if err != nil {
		return nil, err
	}
	p.pluginPaths = pluginPaths
	for attempt := 1; ; attempt++ {
		ports, err := pickPorts(2)
		if err != nil {
			return p, err
		}
		if err := p.writeConfig(dir, ports[0], ports[1], modules); err != nil {
			return p, err
		}
		if attempt == 1 {
			if err := p.Register(ctx, "admin", p.AdminPassword); err != nil {
				return p, err
			}
		}
		err = p.start(ctx, dir)
		if err == nil {
			logf("testenv: prosody listening on %s (STARTTLS) and %s (direct TLS)", p.C2SAddr, p.DirectTLSAddr)
			return p, nil
		}
		p.proc.kill()
		if attempt == startAttempts || ctx.Err() != nil {
			return p, err
		}
		logf("testenv: prosody start failed, retrying with new ports: %v", err)
		p.proc = nil
	}
}

func startGlewlwyd(ctx context.Context, dir string, users map[string]string, logf func(string, ...any)) (*Glewlwyd, error) {
	var mainKey, shortKey *selfSigned
	var g *Glewlwyd
	eg, egctx := errgroup.WithContext(ctx)
	eg.Go(func() (err error) { mainKey, err = newSelfSigned("oidc"); return err })
	eg.Go(func() (err error) { shortKey, err = newSelfSigned("oidcshort"); return err })
	eg.Go(func() (err error) { g, err = newGlewlwyd(egctx, dir); return err })
	if err := eg.Wait(); err != nil {
		return g, err
	}
	for attempt := 1; ; attempt++ {
		ports, err := pickPorts(1)
		if err != nil {
			return g, err
		}
		if err := g.writeConfig(ports[0]); err != nil {
			return g, err
		}
		err = g.start(ctx)
		if err == nil {
			break
		}
		g.proc.kill()
		if attempt == startAttempts || ctx.Err() != nil {
			return g, err
		}
		logf("testenv: glewlwyd start failed, retrying with a new port: %v", err)
		g.proc = nil
	}
	if err := g.configure(ctx, mainKey, shortKey, users); err != nil {
		return g, g.proc.errf(err)
	}
	logf("testenv: glewlwyd issuer %s, users %v", g.Issuer, slices.Sorted(maps.Keys(g.Users)))
	return g, nil
}

// Close kills every process Start started and removes the temporary
// directory. It is safe to call more than once.
func (e *Env) Close() error {
	e.closeOnce.Do(func() {
		var wg sync.WaitGroup
		for _, p := range e.procs() {
			wg.Go(p.kill)
		}
		if e.Ejabberd != nil {
			wg.Go(func() { _ = e.Ejabberd.Close() })
		}
		wg.Wait()
		if e.removeDir {
			e.closeErr = os.RemoveAll(e.Dir)
		}
	})
	return e.closeErr
}

// uniq drops repeated strings, keeping the first occurrence's position.
func uniq(in []string) []string {
	seen := map[string]bool{}
	out := in[:0:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// randomSecret returns 128 random bits, hex-encoded.
func randomSecret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
