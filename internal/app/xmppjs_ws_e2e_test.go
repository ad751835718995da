package app_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// nodeClient is tools/webclients/xmppjs-ws.mjs run by node: an @xmpp/client
// session over the proxy's WebSocket, driven line by line.
type nodeClient struct {
	t     testing.TB
	in    io.WriteCloser
	lines chan string
	done  chan error
}

func startNodeClient(t testing.TB, s *stack, user, password string) *nodeClient {
	t.Helper()
	dir := testenv.RequireWebClients(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, "xmppjs-ws.mjs"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"SERVICE=wss://"+s.ws+"/xmpp-websocket", "DOMAIN="+s.env.Prosody.Domain,
		"USERNAME="+user, "PASSWORD="+password, "CA_FILE="+s.env.Prosody.CertFile)
	cmd.Stderr = testWriter{t}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &nodeClient{t: t, in: in, lines: make(chan string, 64), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
		c.done <- cmd.Wait()
	}()
	return c
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("node: %s", strings.TrimSpace(string(p)))
	return len(p), nil
}

func (c *nodeClient) do(cmd string) {
	c.t.Helper()
	if _, err := fmt.Fprintln(c.in, cmd); err != nil {
		c.t.Fatalf("node client: %v", err)
	}
}

// expect reads lines until one starts with prefix and returns it; the lines
// skipped on the way are returned too.
func (c *nodeClient) expect(prefix string) (string, []string) {
	c.t.Helper()
	var skipped []string
	timeout := time.After(time.Minute)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("node client ended (%v) before %q; read %q", <-c.done, prefix, skipped)
			}
			if strings.HasPrefix(line, "ERROR") {
				c.t.Logf("node client: %s", line)
			}
			if strings.HasPrefix(line, prefix) {
				return line, skipped
			}
			skipped = append(skipped, line)
		case <-timeout:
			c.t.Fatalf("node client: no %q within a minute; read %q", prefix, skipped)
		}
	}
}

// @xmpp/client 0.14 over the proxy's WebSocket, against the real Prosody
// and Glewlwyd: it logs in with the IdP password, messages a TCP client both
// ways, loses its WebSocket, reconnects and resumes its XEP-0198 session; a
// message sent meanwhile arrives exactly once, before later ones.
func TestXMPPJSOverWebSocket(t *testing.T) {
	s := startWSStack(t)
	bob := s.loginPlain(t, "bob", s.env.IdP.Users["bob"])
	bob.open(s.env.Prosody.Domain)
	bobJID := bob.bind("desk")
	bob.send("<presence/>")

	node := startNodeClient(t, s, "alice", s.env.IdP.Users["alice"])
	online, _ := node.expect("ONLINE ")
	aliceJID := strings.TrimPrefix(online, "ONLINE ")
	if !strings.HasPrefix(aliceJID, "alice@"+s.env.Prosody.Domain+"/") {
		t.Fatalf("online as %q", aliceJID)
	}

	node.do("send " + bobJID + " hello from xmpp.js")
	awaitMessage(t, bob.next, "hello from xmpp.js")
	bob.send("<message to='" + aliceJID + "' type='chat'><body>hello node</body></message>")
	if line, _ := node.expect("MESSAGE "); line != "MESSAGE "+bobJID+" hello node" {
		t.Fatalf("node got %q", line)
	}

	node.do("cut")
	bob.send("<message to='" + aliceJID + "' type='chat'><body>while cut</body></message>")
	_, before := node.expect("RESUMED")
	bob.send("<message to='" + aliceJID + "' type='chat'><body>after resume</body></message>")
	_, between := node.expect("MESSAGE " + bobJID + " after resume")
	seen := 0
	for _, l := range append(before, between...) {
		if l == "MESSAGE "+bobJID+" while cut" {
			seen++
		}
	}
	if seen != 1 {
		t.Fatalf("the message sent while cut arrived %d times; lines %q %q", seen, before, between)
	}
	node.do("stop")
	if err := <-node.done; err != nil {
		t.Fatalf("node client: %v", err)
	}
}
