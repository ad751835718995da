package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// TestPassthroughThroughProxy: with credentials: passthrough (server and IdP
// share a directory: here the same password set in both), the user's own
// password goes upstream and the session binds; a wrong password gets
// not-authorized; nothing is provisioned.
func TestPassthroughThroughProxy(t *testing.T) {
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		env := testenv.Require(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		user := fmt.Sprintf("pat%d", time.Now().UnixNano()%1e9)
		if err := env.IdP.AddUser(ctx, user, "pat-password"); err != nil {
			t.Fatal(err)
		}
		if err := srv.Register(ctx, user, "pat-password"); err != nil {
			t.Fatal(err)
		}
		yaml := strings.Replace(env.ProxyConfigFor(srv, listenAny, ""), "credentials: managed", "credentials: passthrough", 1)
		s := startStackReady(t, env, srv, yaml, true)
		c := s.loginPlain(t, user, "pat-password")
		c.open(s.domain())
		if jid := c.bind("pt"); !strings.HasPrefix(jid, s.jid(user)+"/") {
			t.Fatalf("bound %q", jid)
		}
		bad, _ := s.dialRaw(t, false)
		wantFailure(t, bad.auth("PLAIN", plainPayload("", user, "not-pat-password")), "not-authorized")
		if strings.Contains(s.logs.String(), "provisioning") {
			t.Error("passthrough provisioned an account")
		}
	})
}
