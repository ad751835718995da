package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
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
	s := startStack(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	user := fmt.Sprintf("dave%d", time.Now().UnixNano()%1e9)
	if err := s.env.IdP.AddUser(ctx, user, "dave-password"); err != nil {
		t.Fatal(err)
	}
	if exists, err := s.env.Prosody.UserExists(ctx, user); err != nil || exists {
		t.Fatalf("before login: exists=%v err=%v", exists, err)
	}

	s.loginPlain(t, user, "dave-password")
	if exists, err := s.env.Prosody.UserExists(ctx, user); err != nil || !exists {
		t.Fatalf("after login: exists=%v err=%v", exists, err)
	}
	if n := s.provisionings(); n != 1 {
		t.Fatalf("first login: %d provisionings, want 1", n)
	}

	c := s.loginPlain(t, user, "dave-password")
	if f := c.open(s.env.Prosody.Domain); !strings.Contains(f.Inner, "xmpp-bind") {
		t.Fatalf("second session has no bind: %s", f.Inner)
	}
	if n := s.provisionings(); n != 1 {
		t.Fatalf("second login provisioned again (%d provisionings)", n)
	}
}

// TestExistingUpstreamPasswordIsReplaced: an account that predates SSO (its own
// password in Prosody) is taken over: the proxy resets it to the managed secret.
func TestExistingUpstreamPasswordIsReplaced(t *testing.T) {
	s := startStack(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	user := fmt.Sprintf("erin%d", time.Now().UnixNano()%1e9)
	if err := s.env.Prosody.Register(ctx, user, "old-local-password"); err != nil {
		t.Fatal(err)
	}
	if err := s.env.IdP.AddUser(ctx, user, "erin-sso-password"); err != nil {
		t.Fatal(err)
	}
	s.loginPlain(t, user, "erin-sso-password")
	if n := s.provisionings(); n != 1 {
		t.Fatalf("%d provisionings, want 1 (change-user-password)", n)
	}
	s.loginPlain(t, user, "erin-sso-password")
	if n := s.provisionings(); n != 1 {
		t.Fatalf("second login provisioned again")
	}
}
