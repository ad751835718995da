package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
)

// Prosody is a running, unchanged Prosody server.
type Prosody struct {
	// ServerInfo's AdminJID is listed in Prosody's admins, so it may run the
	// XEP-0133 commands of mod_admin_adhoc.
	ServerInfo
	ConfigPath string
	DataDir    string

	proc *process
	// pluginPaths are searched for modules before Prosody's own directory.
	pluginPaths []string
	// ownDir is removed by Close (a server started on its own, not by an Env).
	ownDir string
}

// defaultProsodyModules keeps Prosody close to a stock install: what a
// client needs, plus XEP-0198 and carbons (both in 0.12 core) for tests of
// stream resumption and multi-client sessions through the proxy.
var defaultProsodyModules = []string{
	"roster", "saslauth", "tls", "disco", "ping", "adhoc", "admin_adhoc", "smacks", "carbons",
}

// Nagle stays on (no network_settings): measurements run against stock.
var prosodyConfig = template.Must(template.New("prosody").Parse(`-- written by internal/testenv
run_as_root = true
pidfile = "{{.Dir}}/prosody.pid"
data_path = "{{.DataDir}}"
interfaces = { "127.0.0.1" }
c2s_ports = { {{.C2SPort}} }
c2s_direct_tls_ports = { {{.DirectTLSPort}} }
s2s_ports = {}
http_ports = {}
https_ports = {}
log = { { levels = { min = "info" }, to = "console" } }
admins = { "{{.AdminJID}}" }
{{if .PluginPaths}}plugin_paths = { {{range .PluginPaths}}"{{.}}"; {{end}}}
{{end}}modules_enabled = { {{range .Modules}}"{{.}}"; {{end}}}
modules_disabled = { "s2s", "offline" }
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
certificates = "{{.Dir}}/certs"
c2s_direct_tls_ssl = { certificate = "{{.CertFile}}", key = "{{.KeyFile}}" }
VirtualHost "{{.Domain}}"
  ssl = { certificate = "{{.CertFile}}", key = "{{.KeyFile}}" }
`))

// newProsody lays out dir (config, data, certificate) without starting it.
func newProsody(dir string, cert *selfSigned) (*Prosody, error) {
	p := &Prosody{
		ServerInfo: ServerInfo{
			Name:          ServerProsody,
			Domain:        "localhost",
			CertFile:      filepath.Join(dir, "certs", "localhost.crt"),
			KeyFile:       filepath.Join(dir, "certs", "localhost.key"),
			AdminJID:      "admin@localhost",
			AdminPassword: randomSecret(),
		},
		ConfigPath: filepath.Join(dir, "prosody.cfg.lua"),
		DataDir:    filepath.Join(dir, "data"),
	}
	for _, d := range []string{dir, p.DataDir, filepath.Dir(p.CertFile)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := cert.write(p.CertFile, p.KeyFile); err != nil {
		return nil, err
	}
	return p, nil
}

// writeConfig (re)writes the config for a pair of ports. run_as_root keeps
// both prosody and prosodyctl as the current user, so the files need no
// chown even as root (without it prosody refuses to run and hangs).
func (p *Prosody) writeConfig(dir string, c2sPort, tlsPort int, modules []string) error {
	p.C2SAddr = "127.0.0.1:" + strconv.Itoa(c2sPort)
	p.DirectTLSAddr = "127.0.0.1:" + strconv.Itoa(tlsPort)
	var buf bytes.Buffer
	err := prosodyConfig.Execute(&buf, map[string]any{
		"Dir": dir, "DataDir": p.DataDir, "C2SPort": c2sPort, "DirectTLSPort": tlsPort,
		"AdminJID": p.AdminJID, "Modules": modules, "Domain": p.Domain,
		"CertFile": p.CertFile, "KeyFile": p.KeyFile, "PluginPaths": p.pluginPaths,
	})
	if err != nil {
		return err
	}
	return os.WriteFile(p.ConfigPath, buf.Bytes(), 0o644)
}

// start runs prosody in the foreground and waits until its log says both
// client ports are active. Prosody keeps running when a port is taken (by
// whatever then answers on it), so a connect alone would not tell.
func (p *Prosody) start(ctx context.Context, dir string) error {
	cmd := exec.Command("prosody", "--config", p.ConfigPath, "-F")
	cmd.Dir = dir
	proc, err := startProcess("prosody", filepath.Join(dir, "prosody.log"), cmd)
	if err != nil {
		return err
	}
	p.proc = proc
	want := [][]byte{activatedLine("c2s", p.C2SAddr), activatedLine("c2s_direct_tls", p.DirectTLSAddr)}
	return proc.waitReady(ctx, func(context.Context) (bool, error) {
		log, err := os.ReadFile(proc.logPath)
		if err != nil {
			return false, err
		}
		if bytes.Contains(log, []byte("Failed to open server port")) {
			return false, errPortTaken
		}
		for _, w := range want {
			if !bytes.Contains(log, w) {
				return false, nil
			}
		}
		return true, nil
	})
}

var errPortTaken = errors.New("port already in use")

// activatedLine is what Prosody's portmanager logs once a port listens.
func activatedLine(service, addr string) []byte {
	host, port, _ := net.SplitHostPort(addr)
	return fmt.Appendf(nil, "Activated service '%s' on [%s]:%s", service, host, port)
}

// Register creates (or resets the password of) an account with prosodyctl.
func (p *Prosody) Register(ctx context.Context, user, password string) error {
	cmd := exec.CommandContext(ctx, "prosodyctl", "--config", p.ConfigPath, "register", user, p.Domain, password)
	cmd.Dir = filepath.Dir(p.ConfigPath)
	out, err := cmd.CombinedOutput()
	if err != nil {
		// The output never echoes the password; the arguments are left out.
		return fmt.Errorf("prosodyctl register %s: %w: %s", user, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// UserExists reports whether Prosody's internal storage holds an account
// for user. It reads the store directly, so it works with or without the
// server and sees accounts made over XMPP (XEP-0133) as well.
func (p *Prosody) UserExists(ctx context.Context, user string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	path := filepath.Join(p.DataDir, prosodyEncode(p.Domain), "accounts", prosodyEncode(strings.ToLower(user))+".dat")
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}

// prosodyEncode mirrors Prosody's datamanager file name encoding: every
// byte that is not a letter or digit becomes %xx.
func prosodyEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return b.String()
}

// Pid is Prosody's process id (benchmarks read its CPU time from /proc).
func (p *Prosody) Pid() int { return p.proc.Pid() }
