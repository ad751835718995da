package app_test

import (
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmpp/stanza"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// TestSCRAMAppPasswordThenFAST is the MFA deployment (password grant off, so
// SCRAM is offered by default): go-xmpp v0.4.1 logs in with an app password
// over SASL2 SCRAM-SHA-256-PLUS (the password never crosses the wire), asks
// for a FAST token (go-xmpp does only after SCRAM), reconnects with it;
// mellium logs in with legacy SASL SCRAM-SHA-256-PLUS; messages arrive both
// ways; not one request reaches the IdP; a wrong or revoked app password fails.
func TestSCRAMAppPasswordThenFAST(t *testing.T) {
	for _, v := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"} {
		t.Setenv(v, "") // go-xmpp dials through a proxy named there
	}
	env := testenv.Require(t)
	yaml := strings.Replace(env.ProxyConfig(listenAny, storeConfig(t, "15m")), "oauth:\n", "oauth:\n  resource_owner_password: false\n", 1)
	yaml, hits := idpCounter(t, yaml, env.IdP.DiscoveryURL, env.IdP.Issuer)
	s := startStackFor(t, env, yaml)
	aliceAP, appPW := s.newAppPassword(t, "alice", env.IdP.Users["alice"], "go-xmpp on the phone")

	_, features := s.dialRaw(t, true)
	for _, want := range []string{"<mechanism>SCRAM-SHA-256-PLUS</mechanism>", "<mechanism>SCRAM-SHA-256</mechanism>",
		"<channel-binding type='tls-exporter'/>"} {
		if !strings.Contains(features.Inner, want) {
			t.Fatalf("features lack %s: %s", want, features.Inner)
		}
	}

	before := hits()
	bob, bobIn := s.melliumSession(t, "bob", "desk", s.newBobAppPassword(t), sasl.ScramSha256Plus)
	if err := bob.Send(t.Context(), stanza.Presence{}.Wrap(nil)); err != nil {
		t.Fatal(err)
	}

	o := s.goXMPPOptions("alice", appPW, true)
	o.Fast = true
	c, err := o.NewClient()
	if err != nil {
		t.Fatalf("go-xmpp SCRAM login with the app password: %v", err)
	}
	if c.Mechanism != "SCRAM-SHA-256-PLUS" || c.Fast.Token == "" || c.Fast.Mechanism == "" {
		t.Fatalf("go-xmpp logged in with %q and got FAST %q (token %v)", c.Mechanism, c.Fast.Mechanism, c.Fast.Token != "")
	}
	token := c.Fast
	goXMPPChat(t, s, c, bob, bobIn, "over SCRAM")

	o.FastToken, o.FastMechanism = token.Token, token.Mechanism
	c2, err := o.NewClient()
	if err != nil {
		t.Fatalf("go-xmpp FAST reconnect: %v", err)
	}
	if c2.Mechanism != token.Mechanism {
		t.Fatalf("reconnect used %q, want FAST %q", c2.Mechanism, token.Mechanism)
	}
	goXMPPChat(t, s, c2, bob, bobIn, "over FAST")

	// Revoking the FAST token (the page's Revoke) ends a live FAST session and
	// refuses the token from then on.
	c3, err := o.NewClient()
	if err != nil {
		t.Fatalf("go-xmpp FAST login: %v", err)
	}
	toks, err := s.app.CredentialStore().ListFAST(t.Context(), s.jid("alice"))
	if err != nil || len(toks) != 1 {
		t.Fatalf("FAST tokens %+v (%v), want go-xmpp's one", toks, err)
	}
	if err := s.app.CredentialStore().Revoke(t.Context(), s.jid("alice"), toks[0].ID); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() {
		for {
			if _, err := c3.Recv(); err != nil {
				ended <- err
				return
			}
		}
	}()
	select {
	case err := <-ended:
		if !strings.Contains(err.Error(), "stream error: Access for this app password or device was revoked") {
			t.Fatalf("the FAST session ended with %v, want the revocation's stream error", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the FAST session outlived its revoked token")
	}
	c3.Close()
	if c4, err := o.NewClient(); err == nil {
		c4.Close()
		t.Fatal("a revoked FAST token logged in")
	}
	if after := hits(); after["token"] != before["token"] || after["introspect"] != before["introspect"] || after["userinfo"] != before["userinfo"] {
		t.Fatalf("SCRAM and FAST logins reached the IdP: before %v, after %v", before, after)
	}
	if n := s.scrape(t, `xmpp_oauth_proxy_sasl_attempts_total{mechanism="SCRAM-SHA-256-PLUS",result="success"}`); n != 2 {
		t.Fatalf("SCRAM-PLUS logins counted %v, want 2 (bob's legacy and alice's SASL2)", n)
	}

	wrong := s.goXMPPOptions("alice", strings.Replace(appPW, appPW[:5], "zzzzz", 1), true)
	if c3, err := wrong.NewClient(); err == nil {
		c3.Close()
		t.Fatal("a wrong app password logged in over SCRAM")
	}
	if err := s.app.CredentialStore().Revoke(t.Context(), s.jid("alice"), aliceAP.ID); err != nil {
		t.Fatal(err)
	}
	plain := s.goXMPPOptions("alice", appPW, true)
	if c4, err := plain.NewClient(); err == nil {
		c4.Close()
		t.Fatal("a revoked app password logged in over SCRAM")
	}
	for _, secret := range []string{appPW, token.Token} {
		if strings.Contains(s.logs.String(), secret) {
			t.Fatal("a secret appears in the log")
		}
	}
}

// TestSCRAMNotOfferedWithPasswordGrant: with the IdP password grant on (users
// may type their IdP password, which SCRAM cannot check), the default offers
// no SCRAM, since clients prefer it to PLAIN.
func TestSCRAMNotOfferedWithPasswordGrant(t *testing.T) {
	env := testenv.Require(t)
	s := startStackFor(t, env, env.ProxyConfig(listenAny, storeConfig(t, "15m")))
	_, features := s.dialRaw(t, true)
	if strings.Contains(features.Inner, "SCRAM") || strings.Contains(features.Inner, "channel-binding") {
		t.Fatalf("SCRAM offered with the password grant on: %s", features.Inner)
	}
	if !strings.Contains(features.Inner, "<mechanism>PLAIN</mechanism>") {
		t.Fatalf("no PLAIN: %s", features.Inner)
	}
}
