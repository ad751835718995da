package upstream

import (
	"testing"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// TestManagedAccountCreatedMeanwhile: the account appears, with the managed
// secret, between our refused login and our add-user (another login of the
// same new user, here or on another replica, created it). The login must
// succeed, not be refused as a take-over. Found by the soak (TestSoak).
func TestManagedAccountCreatedMeanwhile(t *testing.T) {
	srv := testenv.Require(t).Prosody
	user := newUser("racer")
	cfg := serverConfig(t, srv, TLSStartTLS)
	var prov provisionLog
	cfg.OnProvision = prov.add
	d, cmds := newDialer(t, cfg)
	d.onCommand = func(node string) {
		if node == nodeAddUser {
			if err := srv.Register(t.Context(), user, managedPassword(cfg.SecretKey, user+"@"+cfg.Domain)); err != nil {
				t.Error(err)
			}
		}
		cmds.add(node)
	}
	if _, err := login(t, d, Credentials{Username: user}); err != nil {
		t.Fatalf("login after a concurrent creation: %v", err)
	}
	for _, ev := range prov.take() {
		if ev == "take-over-refused/ok" {
			t.Fatal("counted as a refused take-over")
		}
	}
}
