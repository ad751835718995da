package app_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

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
	// resource is the Bind2 resource made of the tag "xmppjs": the proxy adds
	// "." and 8 random hex digits per bind (docs/sasl2.md); mod_sasl2_bind2
	// adds "~" and base64 of 9 bytes of SHA-1 of the user-agent id, the same
	// on every login of the device.
	resource *regexp.Regexp
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
	p := startStack(t, storeConfig(t, "15m"))
	_, pw := p.newAppPassword(t, "alice", env.IdP.Users["alice"], "xmpp.js")
	return []target{
		{"reference", r, "alice", benchDirectPassword, "bob", benchDirectPassword,
			regexp.MustCompile(`^xmppjs~[A-Za-z0-9+/]{12}$`)},
		{"proxy", p, "alice", pw, "bob", env.IdP.Users["bob"],
			regexp.MustCompile(`^xmppjs\.[0-9a-f]{8}$`)},
	}
}

// TestReferenceXMPPJS: @xmpp/client 0.14 runs one whole session
// (clients/xmppjs/session.mjs) straight against the reference Prosody and
// through the proxy: SASL2 PLAIN with Bind2 and inline SM and a FAST token,
// a message each way, a FAST reconnect that binds again, a cut TLS socket
// resumed inline with FAST + <resume/>, three messages sent during the cut
// and one after it each delivered exactly once. Both traces must be the
// same; the JIDs each follow their server's Bind2 form.
func TestReferenceXMPPJS(t *testing.T) {
	traces := map[string]string{}
	for _, tg := range referenceTargets(t) {
		t.Run(tg.name, func(t *testing.T) {
			events := tg.s.runXMPPJS(t, "session.mjs", "SERVICE=xmpps://"+tg.s.direct, "DOMAIN="+tg.s.domain(),
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
			traces[tg.name] = strings.Join(trace, ",")
			if len(jids) != 3 || jids[1] != jids[2] {
				t.Fatalf("JIDs (login, FAST login, resumed): %v; want the resume to keep the second", jids)
			}
			for _, j := range jids {
				bare, res, _ := strings.Cut(j, "/")
				if bare != tg.s.jid(tg.user) || !tg.resource.MatchString(res) {
					t.Errorf("bound %q, want %s/ and a resource like %s", j, tg.s.jid(tg.user), tg.resource)
				}
			}
			wantIn := []string{"from peer 1", "while cut 1", "while cut 2", "while cut 3", "after resume"}
			if !slices.Equal(received, wantIn) {
				t.Errorf("the client received %q, want each of %q once, in order", received, wantIn)
			}
			if wantOut := []string{"to peer 1", "to peer 2"}; !slices.Equal(peerReceived, wantOut) {
				t.Errorf("the peer received %q, want %q", peerReceived, wantOut)
			}
		})
	}
	if traces["reference"] != traces["proxy"] {
		t.Errorf("xmpp.js behaved differently:\nreference %s\nproxy     %s", traces["reference"], traces["proxy"])
	}
}
