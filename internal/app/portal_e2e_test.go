package app_test

import (
	"strings"
	"testing"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/credstore"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// TestPortalServesAppPasswords runs the proxy with portal.address set, signs
// in on the page with a real browser through Glewlwyd's login page, creates
// an app password and finds it valid in the proxy's store.
func TestPortalServesAppPasswords(t *testing.T) {
	env := testenv.Require(t)
	setup, err := env.PortalConfig(t.Context(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := startStack(t, setup.Extra)
	user, password := "portal-e2e", "portal-e2e-password"
	if err := env.IdP.AddUser(t.Context(), user, password); err != nil {
		t.Fatal(err)
	}
	appPassword := env.IdP.BrowserAppPassword(t, setup.PublicURL, user, password, "e2e device")

	store, err := credstore.Open(t.Context(), credstore.Config{Path: setup.StorePath, HashKey: setup.HashKey,
		EncryptionKeys: []credstore.EncryptionKey{{ID: setup.EncryptionKeyID, Key: setup.EncryptionKey}}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	v, err := store.Verify(t.Context(), s.jid(user), appPassword, "127.0.0.1")
	if err != nil || v.Label != "e2e device" {
		t.Fatalf("Verify(the password the page showed) = %+v, %v", v, err)
	}
	if strings.Contains(s.logs.String(), appPassword) {
		t.Error("the app password reached the proxy's log")
	}
	if !strings.Contains(s.logs.String(), "self-service page listening") {
		t.Error("the proxy did not log its portal listener")
	}
}
