package composetest

import (
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDockerBuildIsStatic runs the Dockerfile's own build command, on the build
// context that .dockerignore leaves, and checks that the binary needs no dynamic
// loader or libc (the final image has neither) and carries the version passed in.
func TestDockerBuildIsStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	root := repoRoot(t)
	bc := findBuildCommand(t, loadDockerfile(t))

	ctxDir := t.TempDir()
	buildContext(t, root, ctxDir)
	out := filepath.Join(t.TempDir(), "xmpp-oauth-proxy")
	const version = "composetest-1.2.3"
	args := map[string]string{"VERSION": version} // as with --build-arg VERSION=...
	expand := func(s string) string {
		return os.Expand(s, func(name string) string {
			if v, ok := args[name]; ok {
				return v
			}
			return bc.argDef[name] // TARGETOS/TARGETARCH: empty without buildx, the host's
		})
	}

	var goArgs []string
	for i := 0; i < len(bc.args); i++ {
		a := expand(bc.args[i])
		if a == "-o" && i+1 < len(bc.args) {
			goArgs = append(goArgs, "-o", out)
			i++
			continue
		}
		goArgs = append(goArgs, a)
	}
	env := os.Environ()
	for _, kv := range bc.env {
		name, value, _ := strings.Cut(expand(kv), "=")
		if value == "" {
			continue // an empty GOOS/GOARCH means the host's
		}
		env = append(env, name+"="+value)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, goArgs...)
	cmd.Dir = ctxDir
	cmd.Env = env
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s (in the .dockerignore'd context): %v\n%s", strings.Join(goArgs, " "), err, b)
	}

	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("binary has a %v program header: it is dynamically linked", p.Type)
		}
	}
	if f.Section(".dynamic") != nil || f.Section(".interp") != nil {
		t.Errorf("binary has a .dynamic or .interp section")
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary imports shared libraries %q", libs)
	}
	if _, err := f.Symbols(); err == nil {
		t.Errorf("binary has a symbol table: -ldflags -s did not apply")
	}

	ver, err := exec.CommandContext(ctx, out, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s version: %v\n%s", out, err, ver)
	}
	if got := strings.TrimSpace(string(ver)); !strings.HasSuffix(got, " "+version) {
		t.Errorf("version prints %q: -X main.version did not reach the binary", got)
	}

	// The built binary checks the compose config as the container would see it, with
	// the -c flag the image's CMD, the unit and the pods use.
	cf := loadCompose(t)
	proxy := cf.Services["xmpp-oauth-proxy"]
	fsRoot := materialize(t, proxy)
	initSecretKey(t, cf, fsRoot)
	check := exec.CommandContext(ctx, out, "check-config", "-c", filepath.Join(fsRoot, "etc", "xmpp-oauth-proxy", "config.yaml"))
	check.Env = os.Environ()
	for k, v := range proxy.Environment {
		check.Env = append(check.Env, k+"="+v)
	}
	if b, err := check.CombinedOutput(); err != nil || !strings.Contains(string(b), "configuration is valid") {
		t.Errorf("check-config on the compose config: %v\n%s", err, b)
	}
}
