package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestDemoStack runs `make demo`'s program as a user would, once per XMPP
// server (-server), sends a message as alice with go-sendxmpp through it, then
// stops it with Ctrl-C and checks that everything it started is gone.
func TestDemoStack(t *testing.T) {
	for _, bin := range []string{"prosody", "glewlwyd", "go-sendxmpp", "erl"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s missing: scripts/setup-debian.sh installs it", bin)
			}
			t.Skipf("%s not installed: run scripts/setup-debian.sh", bin)
		}
	}
	dir := t.TempDir()
	demo := filepath.Join(dir, "demo")
	if out, err := exec.Command("go", "build", "-o", demo, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, server := range []string{"prosody", "ejabberd"} {
		t.Run(server, func(t *testing.T) { runDemo(t, demo, server) })
	}
}

func runDemo(t *testing.T, demo, server string) {
	dir := t.TempDir()
	ports := freePorts(t, 6)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, demo, "-server", server, "-starttls", ports[0], "-direct", ports[1], "-metrics", ports[2], "-portal", ports[3],
		"-websocket", ports[4], "-webchat", ports[5], "-webclients", "../../tools/webclients")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	// Read the printed instructions up to the go-sendxmpp line.
	var printed strings.Builder
	sendLine := ""
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		printed.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "go-sendxmpp -u alice@") {
			sendLine = strings.TrimSpace(sc.Text())
			break
		}
	}
	if !strings.Contains(strings.ToLower(printed.String()), "xmpp server behind the proxy : "+server) {
		t.Errorf("demo does not say it fronts %s:\n%s", server, printed.String())
	}
	if sendLine == "" {
		t.Fatalf("demo printed no go-sendxmpp command:\n%s\n%s", printed.String(), stderr.String())
	}
	go func() { // keep draining stdout
		for sc.Scan() {
		}
	}()
	tmpDir := regexp.MustCompile(`in (/\S+xmpp-oauth-proxy-demo-\S+)`).FindStringSubmatch(printed.String())
	if tmpDir == nil {
		t.Fatalf("no working directory printed:\n%s", printed.String())
	}

	// The printed self-service page answers with its sign-in page.
	page := regexp.MustCompile(`Self-service page\s+: (http://\S+)`).FindStringSubmatch(printed.String())
	if page == nil {
		t.Fatalf("demo printed no self-service page URL:\n%s", printed.String())
	}
	resp, err := http.Get(page[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `id="signin"`) {
		t.Errorf("%s: %s, want the sign-in page", page[1], resp.Status)
	}

	// The printed chat page serves Converse.js from node_modules, pointed at the
	// proxy's WebSocket (Converse itself is tested in internal/app).
	if chat := regexp.MustCompile(`Chat in the browser\s+: (http://\S+)`).FindStringSubmatch(printed.String()); chat != nil {
		checkChatPage(t, chat[1], ports[4])
	} else if _, err := os.Stat("../../tools/webclients/node_modules/converse.js"); err == nil || os.Getenv("CI") == "true" {
		t.Errorf("demo printed no chat page:\n%s", printed.String())
	}

	// Run the printed command through a shell, as a user pasting it would (the
	// message goes to bob, offline: what counts is that alice's login and send
	// succeed through the proxy).
	send := exec.CommandContext(ctx, "bash", "-c", sendLine)
	send.Env = append(os.Environ(), "HOME="+dir)
	if out, err := send.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s\nproxy log:\n%s", sendLine, err, out, stderr.String())
	}
	if !regexp.MustCompile(`logged in.*alice`).MatchString(stderr.String()) {
		t.Errorf("proxy log shows no login of alice:\n%s", stderr.String())
	}

	// Ctrl-C: the demo stops and removes what it started.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo exit: %v\n%s", err, stderr.String())
	}
	if _, err := os.Stat(tmpDir[1]); !os.IsNotExist(err) {
		t.Errorf("demo left %s behind", tmpDir[1])
	}
	if c, err := net.DialTimeout("tcp", ports[0], time.Second); err == nil {
		c.Close()
		t.Error("proxy port still open after the demo stopped")
	}
	if out, _ := exec.Command("pgrep", "-f", tmpDir[1]).Output(); len(out) > 0 {
		t.Errorf("processes of the demo still running: %s", out)
	}
}

// checkChatPage fetches the page and the Converse bundle it loads.
func checkChatPage(t *testing.T, page, wsAddr string) {
	t.Helper()
	for _, u := range []string{page, strings.SplitN(page, "/?", 2)[0] + "/dist/converse.min.js"} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("%s: %s", u, resp.Status)
		}
	}
	if !strings.Contains(page, "ws%3A%2F%2F"+strings.ReplaceAll(wsAddr, ":", "%3A")) {
		t.Errorf("chat page %s does not point at the WebSocket listener %s", page, wsAddr)
	}
}

func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ln.Addr().String())
		defer ln.Close()
	}
	return out
}

// lockedBuffer collects the demo's log while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
