package composetest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	unitName = "xmpp-oauth-proxy.service"
	// $CREDENTIALS_DIRECTORY of the unit, fixed by systemd.
	credentialsDir = "/run/credentials/" + unitName + "/"
)

// unitFile maps section -> key -> values in file order (keys may repeat).
type unitFile map[string]map[string][]string

func parseUnit(t *testing.T, text string) unitFile {
	t.Helper()
	u := unitFile{}
	section := ""
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not key=value in a section: %q", unitName, i+1, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

func (u unitFile) one(section, key string) string {
	if v := u[section][key]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

func loadUnit(t *testing.T) (unitFile, string) {
	t.Helper()
	text := string(readFile(t, filepath.Join(repoRoot(t), "configs", "systemd", unitName)))
	return parseUnit(t, text), text
}

func TestSystemdUnit(t *testing.T) {
	u, _ := loadUnit(t)
	want := map[string]string{
		"Type":                  "simple",
		"ExecStart":             "/usr/local/bin/xmpp-oauth-proxy serve -c /etc/xmpp-oauth-proxy/config.yaml",
		"ExecReload":            "/bin/kill -HUP $MAINPID",
		"DynamicUser":           "yes",
		"AmbientCapabilities":   "CAP_NET_BIND_SERVICE",
		"NoNewPrivileges":       "yes",
		"ProtectSystem":         "strict",
		"ProtectHome":           "yes",
		"PrivateTmp":            "yes",
		"SystemCallErrorNumber": "EPERM",
	}
	for k, v := range want {
		if got := u.one("Service", k); got != v {
			t.Errorf("[Service] %s=%q, want %q", k, got, v)
		}
	}
	// Go raises RLIMIT_NOFILE at start (prlimit64, in @resources): a filter that
	// removes @resources would break it.
	for _, f := range u["Service"]["SystemCallFilter"] {
		if strings.HasPrefix(f, "~") && strings.Contains(f, "@resources") {
			t.Errorf("SystemCallFilter=%s denies @resources, which the Go runtime uses", f)
		}
	}
	if u.one("Install", "WantedBy") != "multi-user.target" {
		t.Errorf("[Install] WantedBy=%q", u.one("Install", "WantedBy"))
	}
}

// TestSystemdConfigUsesCredentials loads configs/systemd/config.yaml with every
// credential the unit loads in place, and checks it needs no other secret files.
func TestSystemdConfigUsesCredentials(t *testing.T) {
	u, _ := loadUnit(t)
	root := repoRoot(t)
	creds := t.TempDir()
	var names []string
	for _, lc := range u["Service"]["LoadCredential"] {
		name, src, ok := strings.Cut(lc, ":")
		if !ok || !filepath.IsAbs(src) {
			t.Errorf("LoadCredential=%s: want NAME:/absolute/path", lc)
			continue
		}
		names = append(names, name)
		body := "s3cr3t-credential-" + name + "-0123456789abcdef"
		switch name {
		case "tls.crt":
			body = string(readFile(t, filepath.Join(root, "configs", "example-tls", "example.org.crt")))
		case "tls.key":
			body = string(readFile(t, filepath.Join(root, "configs", "example-tls", "example.org.key")))
		case "secret-key": // as made by: openssl rand -base64 32
			key := make([]byte, 32)
			_, _ = rand.Read(key)
			body = base64.StdEncoding.EncodeToString(key)
		}
		writeFile(t, creds, name, body)
	}

	// The config names credentials by their fixed absolute path; point it at creds.
	text := string(readFile(t, filepath.Join(root, "configs", "systemd", "config.yaml")))
	dir := t.TempDir()
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(text, credentialsDir, creds+"/")), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := checkConfig(t, p)
	if cfg.OAuth.ClientSecret != "s3cr3t-credential-client-secret-0123456789abcdef" {
		t.Errorf("oauth client secret is not the client-secret credential")
	}
	var files []string
	for _, c := range cfg.TLS.Certificates {
		files = append(files, c.CertFile, c.KeyFile)
	}
	for _, d := range cfg.Domains {
		files = append(files, d.Upstream.SecretKeyFile, d.Upstream.AdminPasswordFile)
	}
	files = append(files, cfg.OAuth.ClientSecretFile)
	for _, f := range files {
		if f == "" {
			continue
		}
		rel, err := filepath.Rel(creds, f)
		if err != nil || strings.HasPrefix(rel, "..") || !slices.Contains(names, rel) {
			t.Errorf("config reads %s, which is not a credential of the unit (%q)", f, names)
		}
	}
}

// TestSystemdAnalyzeVerify runs systemd-analyze verify, with ExecStart pointing at
// an executable that exists here, and fails on any complaint about the unit.
func TestSystemdAnalyzeVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze is not installed (scripts/setup-debian.sh installs it)")
		}
		t.Skip("systemd-analyze is not installed")
	}
	_, text := loadUnit(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), unitName)
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(text, "/usr/local/bin/xmpp-oauth-proxy", self)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, sa, "verify", unit).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// Unknown or misspelt keys are only warnings: treat any line about the unit as one.
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, unitName) {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
}
