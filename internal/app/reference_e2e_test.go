package app_test

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// The reference comparison: the same independent clients straight to a
// Prosody with prosody-modules' SASL2 stack (testenv.RequireReferenceProsody)
// and through the proxy in front of a stock Prosody. Where the two differ by
// design, each is held to its own documented form (docs/sasl2.md, "The
// reference server").

// target is one side of the comparison: where a client connects and as whom.
type target struct {
	name         string
	s            *stack
	user, secret string // the client's account; through the proxy an app password
	peer, peerPW string
	// bind2 is the form of a Bind2 resource for a tag, with and without a
	// <user-agent id/>: the proxy adds "." and 8 random hex digits per bind
	// either way (docs/sasl2.md); mod_sasl2_bind2 adds "~" and base64 of 9
	// bytes of SHA-1 of the user-agent id (the same on every login of the
	// device), or without one a random id.medium().
	bind2, bind2NoUA string
	// sameResource: a device's logins bind the same resource (the
	// reference's suffix comes from the user-agent id; the proxy's is new
	// on every bind).
	sameResource bool
	// fastTLS is the TLS version go-xmpp's SCRAM-PLUS and FAST work on: 0.12's
	// SCRAM-PLUS binds to tls-unique only (TLS 1.2); through the proxy, on TLS
	// 1.2 go-xmpp v0.4.1 asks for an -EXPR token but remembers -UNIQ when both
	// are offered (its bug; the proxy offers both), so TLS 1.3.
	fastTLS uint16
}

// resource matches tag's Bind2 resources at tg, for a client that sends a
// user-agent id or not.
func (tg target) resource(tag string, userAgent bool) *regexp.Regexp {
	form := tg.bind2
	if !userAgent {
		form = tg.bind2NoUA
	}
	return regexp.MustCompile(fmt.Sprintf(form, regexp.QuoteMeta(tag)))
}

// referenceTargets are the reference Prosody and the proxy, each with alice
// and bob ready.
func referenceTargets(t *testing.T) []target {
	t.Helper()
	ref := testenv.RequireReferenceProsody(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("reference prosody log:\n%s", ref.LogTail())
		}
	})
	env := testenvRequire(t)
	r := serverStack(t, env, ref)
	for _, u := range []string{"alice", "bob"} {
		serverUser(t, ref, u)
	}
	// SCRAM for app passwords on although the password grant is on: go-xmpp
	// asks for FAST only after SCRAM (TestReferenceGoXMPPFAST).
	extra := strings.Replace(storeConfig(t, "15m"), "grace: 1h}", "grace: 1h, scram: on}", 1)
	if !strings.Contains(extra, "scram: on") {
		t.Fatalf("storeConfig changed shape: %s", extra)
	}
	p := startStack(t, extra)
	_, pw := p.newAppPassword(t, "alice", env.IdP.Users["alice"], "xmpp.js")
	return []target{
		{"reference", r, "alice", benchDirectPassword, "bob", benchDirectPassword,
			`^%s~[A-Za-z0-9+/]{12}$`, `^%s~[A-Za-z0-9_-]{24}$`, true, tls.VersionTLS12},
		{"proxy", p, "alice", pw, "bob", env.IdP.Users["bob"], `^%s\.[0-9a-f]{8}$`, `^%s\.[0-9a-f]{8}$`, false, tls.VersionTLS13},
	}
}

// TestReferenceXMPPJS: @xmpp/client 0.14 runs one whole session
// (clients/xmppjs/session.mjs) straight against the reference Prosody and
// through the proxy: SASL2 PLAIN with Bind2 and inline SM and a FAST token,
// a message each way, a FAST reconnect that binds again, a cut TLS socket
// resumed inline with FAST + <resume/>, three messages sent during the cut
// and one after it each delivered exactly once; over Direct TLS and
// STARTTLS. Both traces must be the same; the JIDs each follow their
// server's Bind2 form.
func TestReferenceXMPPJS(t *testing.T) {
	traces := map[string]string{}
	for _, tg := range referenceTargets(t) {
		for _, mode := range []struct{ name, service string }{
			{"DirectTLS", "xmpps://" + tg.s.direct}, {"STARTTLS", "xmpp://" + tg.s.starttls},
		} {
			t.Run(tg.name+"/"+mode.name, func(t *testing.T) {
				traces[tg.name] += mode.name + ":" + tg.xmppjsSession(t, mode.service) + ";"
			})
		}
	}
	if len(traces) == 2 && traces["reference"] != traces["proxy"] { // both ran
		t.Errorf("xmpp.js behaved differently:\nreference %s\nproxy     %s", traces["reference"], traces["proxy"])
	}
}

// xmppjsSession runs session.mjs against tg over service (xmpps:// or
// xmpp:// with STARTTLS), checks it, and returns its trace.
func (tg target) xmppjsSession(t *testing.T, service string) string {
	t.Helper()
	events := tg.s.runXMPPJS(t, "session.mjs", "SERVICE="+service, "DOMAIN="+tg.s.domain(),
		"USERNAME="+tg.user, "PASSWORD="+tg.secret, "PEER_USERNAME="+tg.peer, "PEER_PASSWORD="+tg.peerPW)
	trace, jids := xmppjsTrace(t, events, true)
	var received, peerReceived []string
	for _, ev := range events {
		switch ev.Event {
		case "received":
			_ = json.Unmarshal([]byte(ev.Message), &received)
		case "peer-received":
			_ = json.Unmarshal([]byte(ev.Message), &peerReceived)
		}
	}
	want := "authenticate:PLAIN,token:HT-SHA-256-NONE,online,sm:enabled," +
		"authenticate:HT-SHA-256-NONE,online,sm:enabled,authenticate:HT-SHA-256-NONE,resumed"
	if got := strings.Join(trace, ","); got != want {
		t.Errorf("xmpp.js: %s\nwant %s", got, want)
	}
	if len(jids) != 3 || jids[1] != jids[2] {
		t.Fatalf("JIDs (login, FAST login, resumed): %v; want the resume to keep the second", jids)
	}
	for _, j := range jids {
		bare, res, _ := strings.Cut(j, "/")
		if bare != tg.s.jid(tg.user) || !tg.resource("xmppjs", true).MatchString(res) {
			t.Errorf("bound %q, want %s/ and a resource like %s", j, tg.s.jid(tg.user), tg.resource("xmppjs", true))
		}
	}
	if (jids[0] == jids[1]) != tg.sameResource {
		t.Errorf("the login and the FAST login bound %s and %s; same resource expected: %v", jids[0], jids[1], tg.sameResource)
	}
	wantIn := []string{"from peer 1", "while cut 1", "while cut 2", "while cut 3", "after resume"}
	if !slices.Equal(received, wantIn) {
		t.Errorf("the client received %q, want each of %q once, in order", received, wantIn)
	}
	if wantOut := []string{"to peer 1", "to peer 2"}; !slices.Equal(peerReceived, wantOut) {
		t.Errorf("the peer received %q, want %q", peerReceived, wantOut)
	}
	return strings.Join(trace, ",")
}

// TestReferenceGoXMPP: go-xmpp v0.4.1 logs in as alice and as bob, straight
// to the reference Prosody and through the proxy, over Direct TLS and
// STARTTLS, with SASL2 PLAIN and Bind2; the JIDs follow each server's Bind2
// form and a message goes each way between the two go-xmpp clients: the same
// checks on both sides. (go-xmpp takes SCRAM whenever offered; its FAST path
// is TestReferenceGoXMPPFAST.)
func TestReferenceGoXMPP(t *testing.T) {
	clearHTTPProxy(t)
	for _, tg := range referenceTargets(t) {
		t.Run(tg.name, func(t *testing.T) {
			for _, direct := range []bool{true, false} {
				// PLAIN: on TLS 1.3 the reference offers SCRAM-SHA-1 without
				// -PLUS, which go-xmpp takes and fails on its own bug (gs2 "y,,"
				// but c=biws), and bob's IdP password is no app password.
				// go-xmpp's SASL2 PLAIN sends no <user-agent/>.
				plain := func(o *goxmpp.Options) { o.Mechanism = "PLAIN" }
				alice := tg.goXMPPLogin(t, tg.user, tg.secret, direct, false, plain)
				bob := tg.goXMPPLogin(t, tg.peer, tg.peerPW, direct, false, plain)
				goXMPPExchange(t, alice, bob, fmt.Sprintf("go-xmpp to bob, direct TLS %v", direct))
			}
		})
	}
}

// TestReferenceGoXMPPFAST: go-xmpp asks for a FAST token only after a SCRAM
// login, and in SASL2 takes SCRAM-*-PLUS only with XEP-0440 channel binding
// types offered. Alice logs in with SCRAM-*-PLUS and gets a token, then
// reconnects with it, straight to the reference and through the proxy (an
// app password, app_passwords.scram on), each on the TLS version go-xmpp
// works with there (target.fastTLS); the FAST login's JID has the Bind2
// form, and a message goes each way with bob after it.
func TestReferenceGoXMPPFAST(t *testing.T) {
	clearHTTPProxy(t)
	for _, tg := range referenceTargets(t) {
		t.Run(tg.name, func(t *testing.T) {
			fast := func(o *goxmpp.Options) {
				o.TLSConfig.MinVersion, o.TLSConfig.MaxVersion, o.Fast = tg.fastTLS, tg.fastTLS, true
			}
			c := tg.goXMPPLogin(t, tg.user, tg.secret, true, true, fast)
			tok := c.Fast
			if !strings.HasPrefix(c.Mechanism, "SCRAM-SHA-") || !strings.HasSuffix(c.Mechanism, "-PLUS") ||
				tok.Token == "" || !strings.HasPrefix(tok.Mechanism, "HT-SHA-256-") {
				t.Fatalf("go-xmpp logged in with %q and got FAST %q (token %v), want SCRAM-*-PLUS and a token",
					c.Mechanism, tok.Mechanism, tok.Token != "")
			}
			closeGoXMPP(t, c, goXMPPChats(c))
			t.Logf("%s: %s, token for %s", tg.name, c.Mechanism, tok.Mechanism)
			c2 := tg.goXMPPLogin(t, tg.user, tg.secret, true, true, fast, func(o *goxmpp.Options) {
				o.FastToken, o.FastMechanism = tok.Token, tok.Mechanism
			})
			if c2.Mechanism != tok.Mechanism {
				t.Fatalf("the reconnect used %q, want FAST %q", c2.Mechanism, tok.Mechanism)
			}
			bob := tg.goXMPPLogin(t, tg.peer, tg.peerPW, true, false, func(o *goxmpp.Options) { o.Mechanism = "PLAIN" })
			goXMPPExchange(t, c2, bob, "go-xmpp after FAST")
		})
	}
}

func clearHTTPProxy(t *testing.T) {
	for _, v := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"} {
		t.Setenv(v, "") // go-xmpp dials through a proxy named there
	}
}

// goXMPPLogin logs in with go-xmpp at tg (options changed by with) and checks
// the JID's Bind2 form (userAgent: go-xmpp sent its <user-agent/>).
func (tg target) goXMPPLogin(t *testing.T, user, secret string, direct, userAgent bool, with ...func(*goxmpp.Options)) *goxmpp.Client {
	t.Helper()
	o := tg.s.goXMPPOptions(user, secret, direct)
	for _, f := range with {
		f(&o)
	}
	c, err := o.NewClient()
	if err != nil {
		t.Fatalf("go-xmpp login as %s (direct TLS %v): %v", user, direct, err)
	}
	bare, res, _ := strings.Cut(c.JID(), "/")
	if form := tg.resource("go-xmpp-test", userAgent); bare != tg.s.jid(user) || !form.MatchString(res) {
		c.Close()
		t.Fatalf("go-xmpp was told JID %q, want %s/ and a resource like %s", c.JID(), tg.s.jid(user), form)
	}
	return c
}

// goXMPPExchange sends text from a to b and an answer back, then ends both.
func goXMPPExchange(t *testing.T, a, b *goxmpp.Client, text string) {
	t.Helper()
	aIn, bIn := goXMPPChats(a), goXMPPChats(b)
	if _, _, err := a.Send(goxmpp.Chat{Remote: b.JID(), Type: "chat", Text: text}); err != nil {
		t.Fatal(err)
	}
	receive(t, bIn, "the message", func(m string) bool { return m == text })
	if _, _, err := b.Send(goxmpp.Chat{Remote: a.JID(), Type: "chat", Text: "re: " + text}); err != nil {
		t.Fatal(err)
	}
	receive(t, aIn, "the reply", func(m string) bool { return m == "re: "+text })
	closeGoXMPP(t, a, aIn)
	closeGoXMPP(t, b, bIn)
}
