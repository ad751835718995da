package app_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// process is the real xmpp-oauth-proxy binary running `serve`.
type process struct {
	cmd      *exec.Cmd
	exited   chan error
	stack    *stack
	certFile string
	keyFile  string
}

// startProcess builds the binary and runs it with a config for the shared test
// services, its own certificate (serial 1) and the given top-level extra config.
func startProcess(t *testing.T, extra string) *process {
	t.Helper()
	env := testenv.Require(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "xmpp-oauth-proxy")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/xmpp-oauth-proxy")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	p := &process{exited: make(chan error, 1), certFile: filepath.Join(dir, "proxy.crt"), keyFile: filepath.Join(dir, "proxy.key")}
	writeCert(t, p.certFile, p.keyFile, 1)

	ports := freeAddrs(t, 3)
	yaml := env.ProxyConfig(testenv.ProxyListeners{StartTLS: ports[0], Direct: ports[1], Metrics: ports[2]},
		"log: {level: debug, format: json}\n"+extra)
	yaml = strings.Replace(yaml, "cert_file: \""+env.Prosody.CertFile+"\", key_file: \""+env.Prosody.KeyFile+"\"",
		"cert_file: \""+p.certFile+"\", key_file: \""+p.keyFile+"\"", 1)
	cfgPath := filepath.Join(dir, "proxy.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	logs := &syncBuffer{}
	p.cmd = exec.Command(bin, "serve", "-c", cfgPath)
	p.cmd.Stderr = logs
	p.cmd.Stdout = logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("proxy output:\n%s", logs.String())
		}
	})

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(mustRead(t, p.certFile))
	p.stack = &stack{env: env, starttls: ports[0], direct: ports[1], metrics: ports[2], logs: logs, roots: roots}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "authorization server metadata loaded") {
		if time.Now().After(deadline) {
			t.Fatalf("proxy did not get ready:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

func (p *process) waitExit(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-p.exited:
		return err
	case <-time.After(within):
		t.Fatalf("proxy still running after %v", within)
		return nil
	}
}

// TestSIGTERMDrainsAndExits: with a live relayed session, SIGTERM stops accepting;
// after the drain period the client gets system-shutdown and the process exits 0.
func TestSIGTERMDrainsAndExits(t *testing.T) {
	p := startProcess(t, "limits: {shutdown_drain: 1s}\n")
	s := p.stack
	c := s.loginPlain(t, "alice", s.env.IdP.Users["alice"])
	c.open(s.env.Prosody.Domain)
	c.bind("drain")

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.waitExit(t, 15*time.Second); err != nil {
		t.Fatalf("exit: %v", err)
	}
	el, err := c.tryNext()
	if err != nil || el.XMLName.Local != "error" || el.child() != "system-shutdown" {
		t.Fatalf("client got <%s>%s (err %v), want system-shutdown", el.XMLName.Local, el.Inner, err)
	}
	if _, err := net.DialTimeout("tcp", s.starttls, time.Second); err == nil {
		t.Error("still accepting after exit")
	}
}

// TestSIGHUPReloadsCertificate: new connections see a new certificate after
// SIGHUP; a session relayed before it keeps working.
func TestSIGHUPReloadsCertificate(t *testing.T) {
	p := startProcess(t, "")
	s := p.stack
	old := s.loginPlain(t, "alice", s.env.IdP.Users["alice"])
	old.open(s.env.Prosody.Domain)
	old.bind("before-reload")
	if serial := serverSerial(t, s.direct); serial != 1 {
		t.Fatalf("serial before reload = %d", serial)
	}

	writeCert(t, p.certFile, p.keyFile, 2)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for serverSerial(t, s.direct) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("new connections never saw the new certificate")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The old session still talks to Prosody.
	old.send("<iq type='get' id='ping1' to='" + s.env.Prosody.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	for i := 0; ; i++ {
		el := old.next()
		if el.XMLName.Local == "iq" && el.attr("id") == "ping1" {
			if el.attr("type") != "result" {
				t.Fatalf("ping after reload: %s", el.Inner)
			}
			break
		}
		if i > 10 {
			t.Fatal("no ping answer on the old session")
		}
	}
}

// TestReadyzFollowsIdP: /readyz is 503 while the IdP is unreachable and 200 once
// it answers, without a restart.
func TestReadyzFollowsIdP(t *testing.T) {
	env := testenv.Require(t)
	// A forwarder stands between the proxy and Glewlwyd so the test can cut the IdP.
	idp := strings.SplitN(strings.TrimPrefix(env.IdP.DiscoveryURL, "http://"), "/", 2)[0]
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	front := ln.Addr().String()
	ln.Close() // nothing listens yet: the IdP is "down"

	// Discovery through the forwarder; the issuer in the document stays Glewlwyd's,
	// so only discovery goes through it (enough to gate readiness).
	yaml := strings.Replace(env.ProxyConfig(listenAny, ""), env.IdP.DiscoveryURL,
		strings.Replace(env.IdP.DiscoveryURL, idp, front, 1), 1)
	s := startStackNoWait(t, env, yaml)
	code, body := s.get(t, "/readyz")
	if code != 503 {
		t.Fatalf("/readyz with the IdP down = %d %s", code, body)
	}

	fwd, err := net.Listen("tcp", front)
	if err != nil {
		t.Fatal(err)
	}
	defer fwd.Close()
	go forward(fwd, idp)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code, _ := s.get(t, "/readyz"); code == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz never became ready after the IdP came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func forward(ln net.Listener, to string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			u, err := net.Dial("tcp", to)
			if err != nil {
				return
			}
			defer u.Close()
			go func() { _, _ = io.Copy(u, c) }()
			_, _ = io.Copy(c, u)
		}()
	}
}

func serverSerial(t *testing.T, addr string) int64 {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{InsecureSkipVerify: true, ServerName: "localhost"}) // only the serial is read
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func writeCert(t *testing.T, certFile, keyFile string, serial int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	if err := os.WriteFile(keyFile+".tmp", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(keyFile+".tmp", keyFile); err != nil {
		t.Fatal(err)
	}
}

func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var lns []net.Listener
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
