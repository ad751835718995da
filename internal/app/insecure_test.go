package app_test

import (
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/app"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/config"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// An http:// IdP elsewhere than loopback loads only with allow_insecure_http,
// and then the start-up log says so.
func TestInsecureHTTPIdPWarns(t *testing.T) {
	t.Setenv("XMPP_OAUTH_PROXY_OAUTH_ISSUER", "http://auth.example.org/realms/xmpp")
	t.Setenv("XMPP_OAUTH_PROXY_OAUTH_ALLOW_INSECURE_HTTP", "true")
	path, _ := testenv.ExampleConfig(t, "../../configs")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	if _, err := app.New(cfg, zerolog.New(logs)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"level":"warn"`) || !strings.Contains(logs.String(), "http://auth.example.org/realms/xmpp") {
		t.Errorf("no warning naming the insecure URL: %s", logs.String())
	}
}
