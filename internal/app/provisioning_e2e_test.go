package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// login runs a PLAIN login through the proxy and fails the test unless it succeeds.
func (s *stack) loginPlain(t *testing.T, user, password string) *rawClient {
	t.Helper()
	c, _ := s.dialRaw(t, false)
	if el := c.auth("PLAIN", plainPayload("", user, password)); el.XMLName.Local != "success" {
		t.Fatalf("login as %s: got <%s>%s", user, el.XMLName.Local, el.Inner)
	}
	return c
}

func (s *stack) provisionings() int {
	return strings.Count(s.logs.String(), "provisioning the account")
}

// TestNewIdPUserGetsUpstreamAccount: a user who exists only in the IdP logs in;
// the proxy creates the upstream account; the next login needs no provisioning.
func TestNewIdPUserGetsUpstreamAccount(t *testing.T) {
	onEachServer(t, "", testNewIdPUserGetsUpstreamAccount)
}

func testNewIdPUserGetsUpstreamAccount(t *testing.T, s *stack) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	user := fmt.Sprintf("dave%d", time.Now().UnixNano()%1e9)
	if err := s.env.IdP.AddUser(ctx, user, "dave-password"); err != nil {
		t.Fatal(err)
	}
	if exists, err := s.srv.UserExists(ctx, user); err != nil || exists {
		t.Fatalf("before login: exists=%v err=%v", exists, err)
	}

	s.loginPlain(t, user, "dave-password")
	if exists, err := s.srv.UserExists(ctx, user); err != nil || !exists {
		t.Fatalf("after login: exists=%v err=%v", exists, err)
	}
	if n := s.provisionings(); n != 1 {
		t.Fatalf("first login: %d provisionings, want 1", n)
	}

	c := s.loginPlain(t, user, "dave-password")
	if f := c.open(s.domain()); !strings.Contains(f.Inner, "xmpp-bind") {
		t.Fatalf("second session has no bind: %s", f.Inner)
	}
	if n := s.provisionings(); n != 1 {
		t.Fatalf("second login provisioned again (%d provisionings)", n)
	}
}

// TestExistingUpstreamPasswordIsReplaced: with the migration switch on, an
// account that predates SSO (its own password upstream) is taken over: the
// proxy resets it to the managed secret, and the old password stops working.
func TestExistingUpstreamPasswordIsReplaced(t *testing.T) {
	testenv.ForEachServer(t, testExistingUpstreamPasswordIsReplaced)
}

func testExistingUpstreamPasswordIsReplaced(t *testing.T, srv testenv.Server) {
	env := testenv.Require(t)
	yaml := strings.Replace(env.ProxyConfigFor(srv, listenAny, ""), "create_accounts: true", "create_accounts: true\n      take_over_existing: true", 1)
	s := startStackReady(t, env, srv, yaml, true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	user := fmt.Sprintf("erin%d", time.Now().UnixNano()%1e9)
	if err := s.srv.Register(ctx, user, "old-local-password"); err != nil {
		t.Fatal(err)
	}
	if err := s.env.IdP.AddUser(ctx, user, "erin-sso-password"); err != nil {
		t.Fatal(err)
	}
	s.loginPlain(t, user, "erin-sso-password")
	if n := s.provisionings(); n != 1 {
		t.Fatalf("%d provisionings, want 1 (change-user-password)", n)
	}
	if n := s.scrape(t, `xmpp_oauth_proxy_upstream_provisioning_total{action="change-user-password",outcome="ok"}`); n != 1 {
		t.Fatalf("take-overs counted: %v, want 1", n)
	}
	s.loginPlain(t, user, "erin-sso-password")
	if n := s.provisionings(); n != 1 {
		t.Fatalf("second login provisioned again")
	}
	if upstreamAccepts(t, s, user, "old-local-password") {
		t.Fatal("the old local password still works after the take-over")
	}
}

// TestExistingUpstreamAccountIsKept: by default the proxy never takes over an
// account it did not create: the IdP user whose name matches gets
// not-authorized, the account keeps its own password, and the refusal is
// logged and counted.
func TestExistingUpstreamAccountIsKept(t *testing.T) {
	onEachServer(t, "", testExistingUpstreamAccountIsKept)
}

func testExistingUpstreamAccountIsKept(t *testing.T, s *stack) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	user := fmt.Sprintf("frank%d", time.Now().UnixNano()%1e9)
	if err := s.srv.Register(ctx, user, "frank-local-password"); err != nil {
		t.Fatal(err)
	}
	if err := s.env.IdP.AddUser(ctx, user, "frank-sso-password"); err != nil {
		t.Fatal(err)
	}
	c, _ := s.dialRaw(t, false)
	wantFailure(t, c.auth("PLAIN", plainPayload("", user, "frank-sso-password")), "not-authorized")
	if !upstreamAccepts(t, s, user, "frank-local-password") {
		t.Fatal("the account's own password was changed")
	}
	if n := s.scrape(t, `xmpp_oauth_proxy_upstream_provisioning_total{action="take-over-refused"`); n != 1 {
		t.Fatalf("refused take-overs counted: %v, want 1", n)
	}
	if !strings.Contains(s.logs.String(), "take_over_existing is off") {
		t.Fatalf("no log line says why:\n%s", s.logs.String())
	}
}

// TestIdPAdminCannotBecomeUpstreamAdmin: an IdP user named like the proxy's
// admin_jid (here Glewlwyd's own "admin", given the XMPP scopes) gets
// not-authorized; the upstream admin keeps its password, so provisioning
// still works afterwards.
func TestIdPAdminCannotBecomeUpstreamAdmin(t *testing.T) {
	onEachServer(t, "", testIdPAdminCannotBecomeUpstreamAdmin)
}

func testIdPAdminCannotBecomeUpstreamAdmin(t *testing.T, s *stack) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.env.IdP.LetAdminUseXMPP(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.env.IdP.PasswordToken(ctx, s.env.IdP.AdminUser, s.env.IdP.AdminPassword); err != nil {
		t.Fatalf("the IdP does not vouch for its admin, so the test would prove nothing: %v", err)
	}
	adminLocal, _, _ := strings.Cut(s.srv.Info().AdminJID, "@")
	if adminLocal != s.env.IdP.AdminUser {
		t.Fatalf("IdP admin %q and upstream admin %q differ: no collision to test", s.env.IdP.AdminUser, adminLocal)
	}
	for _, name := range []string{s.env.IdP.AdminUser, s.srv.Info().AdminJID} {
		c, _ := s.dialRaw(t, false)
		wantFailure(t, c.auth("PLAIN", plainPayload("", name, s.env.IdP.AdminPassword)), "not-authorized")
	}
	if !strings.Contains(s.logs.String(), "reserved") {
		t.Fatalf("no log line says the name is reserved:\n%s", s.logs.String())
	}
	if !upstreamAccepts(t, s, adminLocal, s.srv.Info().AdminPassword) {
		t.Fatal("the upstream admin's password changed")
	}
	user := fmt.Sprintf("gina%d", time.Now().UnixNano()%1e9)
	if err := s.env.IdP.AddUser(ctx, user, "gina-password"); err != nil {
		t.Fatal(err)
	}
	s.loginPlain(t, user, "gina-password") // needs the admin session: add-user
}

// TestFoldedUsernameCannotReachVictim: "straße" is a valid PRECIS username of
// its own, but the server's Nodeprep folds it to "strasse". The IdP user
// "straße…" must not reach (nor reset the password of) "strasse…".
func TestFoldedUsernameCannotReachVictim(t *testing.T) {
	onEachServer(t, "", testFoldedUsernameCannotReachVictim)
}

func testFoldedUsernameCannotReachVictim(t *testing.T, s *stack) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := time.Now().UnixNano() % 1e9
	victim, attacker := fmt.Sprintf("strasse%d", n), fmt.Sprintf("straße%d", n)
	if err := s.env.IdP.AddUser(ctx, victim, "victim-password"); err != nil {
		t.Fatal(err)
	}
	if err := s.env.IdP.AddUser(ctx, attacker, "attacker-password"); err != nil {
		t.Fatal(err)
	}
	s.loginPlain(t, victim, "victim-password") // creates the victim's account
	before := s.provisionings()

	c, _ := s.dialRaw(t, false)
	wantFailure(t, c.auth("PLAIN", plainPayload("", attacker, "attacker-password")), "not-authorized")
	if !strings.Contains(s.logs.String(), "canonical") {
		t.Fatalf("no log line says why:\n%s", s.logs.String())
	}
	if s.provisionings() != before {
		t.Fatal("the attacker's login provisioned an account")
	}
	s.loginPlain(t, victim, "victim-password")
	if s.provisionings() != before {
		t.Fatal("the victim's password was reset")
	}
}

// upstreamAccepts logs in straight to the upstream server (not through the
// proxy) with PLAIN.
func upstreamAccepts(t *testing.T, s *stack, user, password string) bool {
	t.Helper()
	up := s.srv.Info()
	direct := &stack{env: s.env, srv: s.srv, starttls: up.C2SAddr, direct: up.DirectTLSAddr, roots: s.roots}
	c, _ := direct.dialRaw(t, false)
	return c.auth("PLAIN", plainPayload("", user, password)).XMLName.Local == "success"
}
