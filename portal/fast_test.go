package portal

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/credstore"
)

// TestFASTDevicesListedAndRevoked: an app password's last use names the
// client that said what it is; a device holding a FAST token (minted on the
// grant of one of the user's app passwords) is listed by its user-agent label
// next to the app passwords, without the token, and Revoke ends it.
func TestFASTDevicesListedAndRevoked(t *testing.T) {
	x := newHarness(t)
	csrf := x.signIn()
	_, _, password := x.create(csrf, "Phone")
	v, err := x.store.VerifyFrom(t.Context(), aliceJID, password, "192.0.2.7", "Monal <iPad>")
	if err != nil {
		t.Fatal(err)
	}
	tok, secret, err := x.store.IssueFASTToken(t.Context(), credstore.NewFASTToken{Owner: aliceJID, GrantID: v.GrantID,
		UserAgentID: "ua-1", Label: "Conversations Pixel <7>", Mechanism: "HT-SHA-256-NONE", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	_, body := x.get("/")
	if !strings.Contains(body, "by Monal &lt;iPad&gt;") {
		t.Error("the app password's last use does not name the client (escaped)")
	}
	if !strings.Contains(body, "Conversations Pixel &lt;7&gt;") || strings.Contains(body, secret.Reveal()) {
		t.Fatalf("home page: device listed escaped %v, token shown %v", strings.Contains(body, "Conversations Pixel &lt;7&gt;"), strings.Contains(body, secret.Reveal()))
	}
	resp, _ := x.post("/app-passwords/revoke", url.Values{"csrf": {csrf}, "id": {tok.ID}, "kind": {"fast"}})
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "fast-revoked") {
		t.Fatalf("revoke: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	if l, _ := x.store.ListFAST(t.Context(), aliceJID); len(l) != 0 {
		t.Fatalf("after revoke: %+v", l)
	}
	if _, body := x.get("/"); strings.Contains(body, "Conversations Pixel") {
		t.Error("a revoked device is still listed")
	}
	if _, err := x.store.Verify(t.Context(), aliceJID, password, "192.0.2.7"); err != nil {
		t.Errorf("the app password stopped working: %v", err)
	}
}
