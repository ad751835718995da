package testenv

import (
	"context"
	"embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"
)

// ServerReference names the reference Prosody (StartReferenceProsody).
const ServerReference = "prosody-sasl2"

// referenceModulesDir is where Debian's prosody-modules installs them.
const referenceModulesDir = "/usr/lib/prosody/modules"

// ReferenceInstallHint tells how to install what StartReferenceProsody needs.
const ReferenceInstallHint = `DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prosody lua-unbound prosody-modules`

// sasl2Modules are prosody-modules' SASL2 stack (2023-02 snapshot).
var sasl2Modules = []string{"sasl2", "sasl2_bind2", "sasl2_fast", "sasl2_sm"}

// referenceModules add our glue that makes it run on Prosody 0.12
// (prosody_modules/).
var referenceModules = append(slices.Clone(sasl2Modules), "testenv_sasl2_compat")

//go:embed prosody_modules/*.lua
var testModules embed.FS

// StartReferenceProsody starts a Prosody 0.12 with prosody-modules' SASL2,
// Bind2, FAST and inline SM (XEP-0388, 0386, 0484, 0198), on free loopback
// ports in its own temporary directory: the server the proxy's own SASL2
// is held against. Otherwise configured like Env's Prosody (same defaults,
// domain localhost, no accounts but admin). Close stops it and removes the
// directory.
func StartReferenceProsody(ctx context.Context, logf func(string, ...any)) (*Prosody, error) {
	if err := checkReferenceInstalled(); err != nil {
		return nil, err
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "testenv-refprosody-")
	if err != nil {
		return nil, err
	}
	own := filepath.Join(dir, "modules")
	if err := writeTestModules(own); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	began := time.Now()
	p, err := startProsody(ctx, dir, uniq(slices.Concat(defaultProsodyModules, referenceModules)),
		[]string{own, referenceModulesDir}, logf)
	if p != nil {
		p.Name, p.ownDir = ServerReference, dir
	}
	if err != nil {
		if p != nil {
			p.Close()
		} else {
			os.RemoveAll(dir)
		}
		return nil, err
	}
	logf("testenv: reference prosody (prosody-modules SASL2) up in %v", time.Since(began).Round(time.Millisecond))
	return p, nil
}

// Close stops a Prosody started on its own (StartReferenceProsody) and
// removes its directory. An Env's Prosody is closed by Env.Close.
func (p *Prosody) Close() error {
	p.proc.kill()
	if p.ownDir == "" {
		return nil
	}
	return os.RemoveAll(p.ownDir)
}

func checkReferenceInstalled() error {
	var missing []string
	for _, bin := range []string{"prosody", "prosodyctl"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	for _, m := range sasl2Modules {
		path := filepath.Join(referenceModulesDir, "mod_"+m, "mod_"+m+".lua")
		if _, err := os.Stat(path); err != nil {
			missing = append(missing, path)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing %v; install with: %s", ErrUnavailable, missing, ReferenceInstallHint)
	}
	return nil
}

func writeTestModules(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files, err := testModules.ReadDir("prosody_modules")
	if err != nil {
		return err
	}
	for _, f := range files {
		b, err := testModules.ReadFile("prosody_modules/" + f.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// LogTail returns the last lines of the server's log, for test failures.
func (p *Prosody) LogTail() string { return tailFile(p.proc.logPath, 60) }
