package app_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// postgresStore is the YAML of a PostgreSQL credential store with a fresh key.
func postgresStore(dsn string) string {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return fmt.Sprintf("store: {driver: postgres, dsn: %q, secret_key: %q}\n", dsn, base64.StdEncoding.EncodeToString(key))
}

// TestCredentialStoreDown: with the PostgreSQL store unreachable, an app
// password login gets temporary-auth-failure (the password might be valid; the
// IdP refusing it proves nothing), while a login with the IdP password goes on.
// Once the database is back, the app password works again without a restart.
func TestCredentialStoreDown(t *testing.T) {
	env := testenv.Require(t)
	dsn := testenv.PostgresDatabase(t)
	port := regexp.MustCompile(`port=(\d+)`).FindStringSubmatch(dsn)[1]
	db := newCutter(t, "127.0.0.1:"+port)
	dsn = strings.Replace(dsn, "port="+port, "port="+strings.Split(db.addr, ":")[1], 1)
	s := startStackFor(t, env, env.ProxyConfig(listenAny, postgresStore(dsn)))
	_, appPW := s.newAppPassword(t, "bob", env.IdP.Users["bob"], "phone")
	s.loginPlain(t, "bob", appPW)

	db.cut()
	before := s.scrape(t, `xmpp_oauth_proxy_sasl_attempts_total{mechanism="PLAIN",result="temporary-auth-failure"}`)
	c, _ := s.dialRaw(t, false)
	wantFailure(t, c.auth("PLAIN", plainPayload("", "bob", appPW)), "temporary-auth-failure")
	if after := s.scrape(t, `xmpp_oauth_proxy_sasl_attempts_total{mechanism="PLAIN",result="temporary-auth-failure"}`); after != before+1 {
		t.Fatalf("temporary-auth-failure counted %v times, want 1", after-before)
	}
	if !strings.Contains(s.logs.String(), `"sasl_failure":"temporary-auth-failure"`) {
		t.Fatalf("no log line for the failure:\n%s", s.logs.String())
	}
	s.loginPlain(t, "alice", env.IdP.Users["alice"]) // the IdP password needs no store

	db.restore(t)
	s.loginPlain(t, "bob", appPW)
	if strings.Contains(s.logs.String(), appPW) {
		t.Fatal("the app password appears in the log")
	}
}
