package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmpp/stanza"
)

// xmppjsEvent is one line the xmpp.js client script prints.
type xmppjsEvent struct {
	Event, Mechanism, JID, Condition, Message string
}

// runXMPPJS runs clients/xmppjs/script with env against the stack (trusting
// its server's certificate) and returns
// its events. It skips when the client is not installed, except in CI.
func (s *stack) runXMPPJS(t *testing.T, script string, env ...string) []xmppjsEvent {
	t.Helper()
	dir, err := filepath.Abs("../../clients/xmppjs")
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if _, serr := os.Stat(filepath.Join(dir, "node_modules", "@xmpp", "client")); err != nil || serr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node or clients/xmppjs/node_modules missing (scripts/setup-debian.sh installs them)")
		}
		t.Skip("xmpp.js client not installed: scripts/setup-node-clients.sh")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = dir
	ca := s.env.Prosody.CertFile
	if s.srv != nil {
		ca = s.srv.Info().CertFile
	}
	cmd.Env = append(os.Environ(), append([]string{"NODE_EXTRA_CA_CERTS=" + ca}, env...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	var events []xmppjsEvent
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	for sc.Scan() {
		var ev xmppjsEvent
		if json.Unmarshal(sc.Bytes(), &ev) == nil {
			events = append(events, ev)
		}
	}
	if err != nil {
		t.Fatalf("xmpp.js %s: %v\nstdout:\n%s\nstderr:\n%s", script, err, stdout, stderr.String())
	}
	return events
}

// TestXMPPJSSASL2FAST: @xmpp/client 0.14, an independent SASL2 client, logs in
// through the proxy (Direct TLS, then STARTTLS) with an app password over SASL2 PLAIN with
// Bind2 and asks for a FAST token; its message reaches bob on the real
// Prosody; then it reconnects twice with the token (HT-SHA-256-NONE), each
// time bound again, and its message arrives again. Glewlwyd receives no request
// from the first login on (counted in front of it).
func TestXMPPJSSASL2FAST(t *testing.T) {
	env := testenvRequire(t)
	yaml, hits := idpCounter(t, env.ProxyConfig(listenAny, storeConfig(t, "15m")), env.IdP.DiscoveryURL, env.IdP.Issuer)
	s := startStackFor(t, env, yaml)
	_, pw := s.newAppPassword(t, "alice", s.env.IdP.Users["alice"], "xmpp.js")
	bob, bobIn := s.melliumSession(t, "bob", "desk", s.env.IdP.Users["bob"], sasl.Plain)
	if err := bob.Send(t.Context(), stanza.Presence{}.Wrap(nil)); err != nil {
		t.Fatal(err)
	}
	idp := hits()
	if idp["token"] == 0 {
		t.Fatalf("the counter saw no request for bob's password login: %v", idp)
	}
	for _, service := range []string{"xmpps://" + s.direct, "xmpp://" + s.starttls} {
		s.xmppjsFAST(t, service, pw, bobIn)
	}
	if got := hits(); !maps.Equal(got, idp) {
		t.Errorf("requests received by Glewlwyd went from %v to %v during the xmpp.js logins, want none", idp, got)
	}
}

// xmppjsFAST runs fast.mjs against service (Direct TLS or STARTTLS) and checks
// its logins and messages.
func (s *stack) xmppjsFAST(t *testing.T, service, pw string, bobIn *inbox) {
	t.Helper()
	events := s.runXMPPJS(t, "fast.mjs", "SERVICE="+service, "DOMAIN="+s.env.Prosody.Domain,
		"USERNAME=alice", "PASSWORD="+pw, "PEER="+s.jid("bob"), "RECONNECTS=2")
	var mechs, jids []string
	tokens := 0
	for _, ev := range events {
		switch ev.Event {
		case "authenticate":
			mechs = append(mechs, ev.Mechanism)
		case "online":
			jids = append(jids, ev.JID)
		case "token":
			tokens++
		case "error", "start-error":
			t.Errorf("xmpp.js reported %+v", ev)
		}
	}
	if strings.Join(mechs, ",") != "PLAIN,HT-SHA-256-NONE,HT-SHA-256-NONE" {
		t.Fatalf("xmpp.js authenticated with %v, want PLAIN then FAST twice", mechs)
	}
	if tokens != 1 || len(jids) != 3 {
		t.Fatalf("tokens saved %d, online %v; want one token and three logins", tokens, jids)
	}
	for _, j := range jids {
		if !strings.HasPrefix(j, s.jid("alice")+"/xmppjs.") {
			t.Fatalf("xmpp.js bound %q, want alice/xmppjs.<random>", j)
		}
	}
	receive(t, bobIn.messages, "xmpp.js's first message", func(b string) bool { return b == "hello from xmpp.js" })
	receive(t, bobIn.messages, "xmpp.js's message after FAST", func(b string) bool { return b == "hello again from xmpp.js" })
}

// TestXMPPJSInlineResume: xmpp.js logs in with an app password, Bind2 and
// inline stream management and gets a FAST token; its TLS socket is then
// destroyed and its own reconnect sends FAST and <resume/> in one
// <authenticate/>: the session is resumed (no new bind), the JID is the same,
// and a message sent after it reaches bob.
func TestXMPPJSInlineResume(t *testing.T) {
	s := startStack(t, storeConfig(t, "15m"))
	_, pw := s.newAppPassword(t, "alice", s.env.IdP.Users["alice"], "xmpp.js")
	bob, bobIn := s.melliumSession(t, "bob", "desk", s.env.IdP.Users["bob"], sasl.Plain)
	if err := bob.Send(t.Context(), stanza.Presence{}.Wrap(nil)); err != nil {
		t.Fatal(err)
	}
	events := s.runXMPPJS(t, "resume.mjs", "SERVICE=xmpps://"+s.direct, "DOMAIN="+s.env.Prosody.Domain,
		"USERNAME=alice", "PASSWORD="+pw, "PEER="+s.jid("bob"))
	trace, jids := xmppjsTrace(t, events, false)
	want := "authenticate:PLAIN,online,sm:enabled,authenticate:HT-SHA-256-NONE,resumed"
	if strings.Join(trace, ",") != want {
		t.Fatalf("xmpp.js: %v, want %s", trace, want)
	}
	if len(jids) != 2 || jids[0] != jids[1] || !strings.HasPrefix(jids[0], s.jid("alice")+"/xmppjs.") {
		t.Fatalf("JIDs before and after the resume: %v", jids)
	}
	receive(t, bobIn.messages, "xmpp.js's message after the resume", func(b string) bool { return b == "resumed from xmpp.js" })
}

// xmppjsTrace reduces a script's events to their order (authenticate:mech,
// token:mech when tokens, online, resumed, sm:state) and the JIDs of online
// and resumed; errors the client reported fail t.
func xmppjsTrace(t *testing.T, events []xmppjsEvent, tokens bool) (trace, jids []string) {
	t.Helper()
	for _, ev := range events {
		switch ev.Event {
		case "authenticate":
			trace = append(trace, ev.Event+":"+ev.Mechanism)
		case "token":
			if tokens {
				trace = append(trace, ev.Event+":"+ev.Mechanism)
			}
		case "online", "resumed":
			trace = append(trace, ev.Event)
			jids = append(jids, ev.JID)
		case "sm":
			trace = append(trace, "sm:"+ev.Message)
		case "error", "start-error":
			t.Errorf("xmpp.js reported %+v", ev)
		}
	}
	return trace, jids
}

// TestXMPPJSRevokedFAST: while xmpp.js is logged in with its FAST token, the
// token is revoked (as the page's Revoke does): the live session ends with a
// not-authorized stream error; the client's own reconnect offers the token,
// is refused, drops it, and logs in with its app password instead.
func TestXMPPJSRevokedFAST(t *testing.T) {
	s := startStack(t, storeConfig(t, "15m"))
	_, pw := s.newAppPassword(t, "alice", s.env.IdP.Users["alice"], "xmpp.js")
	bob, bobIn := s.melliumSession(t, "bob", "desk", s.env.IdP.Users["bob"], sasl.Plain)
	if err := bob.Send(t.Context(), stanza.Presence{}.Wrap(nil)); err != nil {
		t.Fatal(err)
	}
	revoked := make(chan error, 1)
	go func() {
		// The FAST session is live once its message has reached bob (not
		// receive: t.Fatal belongs to the test's goroutine).
		timeout := time.After(30 * time.Second)
		for b := ""; b != "hello again from xmpp.js"; {
			select {
			case b = <-bobIn.messages:
			case <-timeout:
				revoked <- fmt.Errorf("xmpp.js's message after FAST never arrived")
				return
			}
		}
		toks, err := s.app.CredentialStore().ListFAST(t.Context(), s.jid("alice"))
		if err == nil && len(toks) != 1 {
			err = fmt.Errorf("%d FAST tokens, want 1", len(toks))
		}
		if err == nil {
			err = s.app.CredentialStore().Revoke(t.Context(), s.jid("alice"), toks[0].ID)
		}
		revoked <- err
	}()
	events := s.runXMPPJS(t, "fast.mjs", "SERVICE=xmpps://"+s.direct, "DOMAIN="+s.env.Prosody.Domain,
		"USERNAME=alice", "PASSWORD="+pw, "PEER="+s.jid("bob"), "RECONNECTS=1", "WAIT_REVOKE=1")
	if err := <-revoked; err != nil {
		t.Fatal(err)
	}
	var trace []string
	for _, ev := range events {
		switch {
		case ev.Event == "authenticate":
			trace = append(trace, "auth:"+ev.Mechanism)
		case ev.Event == "error" && ev.Condition != "": // the socket's own close error has none
			trace = append(trace, "error:"+ev.Condition)
		case ev.Event == "token-deleted", ev.Event == "waiting", ev.Event == "online", ev.Event == "token":
			trace = append(trace, ev.Event)
		}
	}
	got := strings.Join(trace, ",")
	// A FAST login was live; after the revocation: the stream error, the token
	// refused and dropped, the app password, a new token.
	before, after, ok := strings.Cut(got, "waiting,")
	if want := "error:not-authorized,auth:HT-SHA-256-NONE,token-deleted,auth:PLAIN,token,online"; !ok ||
		!strings.HasSuffix(before, "auth:HT-SHA-256-NONE,online,") || after != want {
		t.Fatalf("xmpp.js events: %s", got)
	}
}
