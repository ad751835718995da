package app_test

import (
	"strings"
	"testing"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// TestOneIdPRequestPerPlainLogin: against a Glewlwyd whose JWT access tokens
// name no user (its default), each PLAIN login with the IdP password costs
// exactly one request at the IdP (the password grant): the grant's ID token
// names the user. Requests are counted where Glewlwyd receives them, through a
// transparent counter in front of its endpoints.
func TestOneIdPRequestPerPlainLogin(t *testing.T) {
	env := testenv.Require(t)
	yaml, hits := idpCounter(t, strings.Replace(env.ProxyConfig(listenAny, ""), env.IdP.DiscoveryURL, env.IdP.DefaultLikeDiscoveryURL, 1),
		env.IdP.DefaultLikeDiscoveryURL, env.IdP.DefaultLikeIssuer)
	s := startStackFor(t, env, yaml)

	const logins = 5
	for i := range logins {
		c := s.loginPlain(t, "carol", env.IdP.Users["carol"])
		if f := c.open(env.Prosody.Domain); !strings.Contains(f.Inner, "xmpp-bind") {
			t.Fatalf("login %d: no bind offered", i)
		}
		c.conn.Close()
	}
	if hits := hits(); hits["token"] != logins || hits["introspect"] != 0 || hits["userinfo"] != 0 {
		t.Fatalf("IdP requests for %d logins: %v; want exactly %d to token and none to introspect or userinfo", logins, hits, logins)
	}
}
