package app_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
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
	disc, err := url.Parse(env.IdP.DefaultLikeDiscoveryURL)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	hits := map[string]int{}
	forward := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: disc.Scheme, Host: disc.Host})
	counter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]]++
		mu.Unlock()
		forward.ServeHTTP(w, r)
	}))
	defer counter.Close()
	base := counter.URL + strings.TrimSuffix(strings.TrimPrefix(env.IdP.DefaultLikeIssuer, disc.Scheme+"://"+disc.Host), "/")
	yaml := strings.Replace(env.ProxyConfig(listenAny, ""), env.IdP.DiscoveryURL, env.IdP.DefaultLikeDiscoveryURL, 1)
	yaml = strings.Replace(yaml, "\noauth:\n", fmt.Sprintf("\noauth:\n  token_endpoint: %q\n  introspection_endpoint: %q\n  validation_endpoint: %q\n",
		base+"/token", base+"/introspect", base+"/userinfo"), 1)
	s := startStackFor(t, env, yaml)

	const logins = 5
	for i := range logins {
		c := s.loginPlain(t, "carol", env.IdP.Users["carol"])
		if f := c.open(env.Prosody.Domain); !strings.Contains(f.Inner, "xmpp-bind") {
			t.Fatalf("login %d: no bind offered", i)
		}
		c.conn.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	if hits["token"] != logins || hits["introspect"] != 0 || hits["userinfo"] != 0 {
		t.Fatalf("IdP requests for %d logins: %v; want exactly %d to token and none to introspect or userinfo", logins, hits, logins)
	}
}
