package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// TestReplicasShareOnePostgreSQL: two proxies on one PostgreSQL store. An app
// password made through one logs in through the other; revoking it through
// the first ends the session on the second at once (LISTEN/NOTIFY).
func TestReplicasShareOnePostgreSQL(t *testing.T) {
	env := testenv.Require(t)
	dsn := testenv.PostgresDatabase(t)
	store := postgresStore(dsn)
	a := startStackFor(t, env, env.ProxyConfig(listenAny, store))
	b := startStackFor(t, env, env.ProxyConfig(listenAny, store))

	ap, pw := a.newAppPassword(t, "bob", env.IdP.Users["bob"], "made on replica a")
	c := b.loginPlain(t, "bob", pw)
	c.open(env.Prosody.Domain)
	c.bind("replica-b")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.app.CredentialStore().Revoke(ctx, a.jid("bob"), ap.ID); err != nil {
		t.Fatal(err)
	}
	wantStreamError(t, c, "not-authorized", "app password or device was revoked")
	c2, _ := b.dialRaw(t, false)
	wantFailure(t, c2.auth("PLAIN", plainPayload("", "bob", pw)), "not-authorized")
}
