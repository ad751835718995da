package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// HAProxy is Debian's haproxy terminating Direct TLS (XEP-0368) in front of
// this Env's Prosody c2s port over plain TCP: the baseline a TLS front costs,
// for benchmarks only (no SSO, the client logs in to Prosody itself).
type HAProxy struct {
	DirectTLSAddr string
	proc          *process
	dir           string
}

// StartHAProxy starts haproxy on a free loopback port with the given
// certificate (empty: Prosody's); Close stops it. ErrUnavailable when haproxy
// is not installed.
func (e *Env) StartHAProxy(ctx context.Context, certFile, keyFile string) (*HAProxy, error) {
	if certFile == "" {
		certFile, keyFile = e.Prosody.CertFile, e.Prosody.KeyFile
	}
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		return nil, fmt.Errorf("%w: haproxy (apt-get install haproxy)", ErrUnavailable)
	}
	dir, err := os.MkdirTemp("", "haproxy-")
	if err != nil {
		return nil, err
	}
	h := &HAProxy{dir: dir}
	cert, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	pem := filepath.Join(dir, "front.pem")
	if err := os.WriteFile(pem, append(append(cert, '\n'), key...), 0o600); err != nil {
		return nil, err
	}
	ports, err := pickPorts(1)
	if err != nil {
		return nil, err
	}
	h.DirectTLSAddr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	cfg := fmt.Sprintf(`global
  maxconn 8000
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
frontend xmpp_direct_tls
  bind %s ssl crt %s alpn xmpp-client
  default_backend prosody
backend prosody
  server prosody %s
`, h.DirectTLSAddr, pem, e.Prosody.C2SAddr)
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	h.proc, err = startProcess("haproxy", filepath.Join(dir, "haproxy.log"), exec.Command(bin, "-db", "-f", path))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err = h.proc.waitReady(ctx, func(ctx context.Context) (bool, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", h.DirectTLSAddr)
		if err != nil {
			return false, nil
		}
		c.Close()
		return true, nil
	})
	if err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// Close stops haproxy and removes its files.
func (h *HAProxy) Close() {
	h.proc.kill()
	os.RemoveAll(h.dir)
}

// Pid is haproxy's process id (benchmarks read its CPU time from /proc).
func (h *HAProxy) Pid() int { return h.proc.Pid() }
