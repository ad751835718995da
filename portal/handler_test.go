package portal

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/credstore"
)

const aliceJID = "alice@example.org"

func TestSignInCreateListRevoke(t *testing.T) {
	x := newHarness(t)
	resp, body := x.get("/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="signin"`) {
		t.Fatalf("signed-out home: %s, want the sign-in page", resp.Status)
	}
	csrf := x.signIn()

	resp, body, password := x.create(csrf, "Phone")
	if resp.StatusCode != http.StatusOK || password == "" {
		t.Fatalf("create: %s, no password shown:\n%s", resp.Status, body)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("the page showing the password has Cache-Control %q, want no-store", resp.Header.Get("Cache-Control"))
	}
	v, err := x.store.Verify(t.Context(), aliceJID, password, "192.0.2.7")
	if err != nil || v.Label != "Phone" || v.Subject != "sub-Alice" {
		t.Fatalf("Verify(shown password) = %+v, %v; want Phone of sub-Alice", v, err)
	}
	// A second password of the same sign-in joins the first one's grant.
	_, _, second := x.create(csrf, "Laptop")
	v2, err := x.store.Verify(t.Context(), aliceJID, second, "192.0.2.8")
	if err != nil || v2.GrantID != v.GrantID {
		t.Fatalf("second password: %+v, %v; want the grant %s", v2, err, v.GrantID)
	}

	_, body = x.get("/")
	for _, want := range []string{aliceJID, "Phone", "Laptop", "from 192.0.2.7", "STARTTLS", "Direct TLS"} {
		if !strings.Contains(body, want) {
			t.Errorf("home page lacks %q", want)
		}
	}
	if strings.Contains(body, password) {
		t.Error("the home page shows an app password again")
	}

	resp, _ = x.post("/app-passwords/revoke", url.Values{"csrf": {csrf}, "id": {v.ID}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %s, want 303", resp.Status)
	}
	if _, err := x.store.Verify(t.Context(), aliceJID, password, "192.0.2.7"); !errors.Is(err, credstore.ErrRevoked) {
		t.Fatalf("Verify after revoke: %v, want ErrRevoked", err)
	}
	if _, err := x.store.Verify(t.Context(), aliceJID, second, "192.0.2.8"); err != nil {
		t.Fatalf("the other password stopped working: %v", err)
	}
	resp, _ = x.post("/app-passwords/revoke", url.Values{"csrf": {csrf}, "id": {v.ID}})
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("revoking twice: %s, want 404", resp.Status)
	}

	resp, _ = x.post("/logout", url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %s", resp.Status)
	}
	if resp, _, _ := x.create(csrf, "After sign-out"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("create after sign out: %s, want 403", resp.Status)
	}
	if n := len(x.list(aliceJID)); n != 2 {
		t.Fatalf("%d app passwords, want 2", n)
	}
}

// Quick repeated submits of one sign-in make passwords on one grant: the
// sign-in's refresh token is stored once.
func TestParallelCreatesShareTheGrant(t *testing.T) {
	x := newHarness(t)
	csrf := x.signIn()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			form := url.Values{"csrf": {csrf}, "label": {fmt.Sprintf("device %d", i)}}
			req, _ := http.NewRequest(http.MethodPost, x.srv.URL+"/app-passwords", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if resp, err := x.client.Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	l := x.list(aliceJID)
	if len(l) != 4 {
		t.Fatalf("%d passwords, want 4", len(l))
	}
	for _, ap := range l {
		if ap.GrantID != l[0].GrantID {
			t.Fatalf("passwords of one sign-in on grants %s and %s", l[0].GrantID, ap.GrantID)
		}
	}
}

func TestCSRF(t *testing.T) {
	x := newHarness(t)
	csrf := x.signIn()
	for name, token := range map[string]string{"missing": "", "forged": strings.Repeat("A", len(csrf))} {
		resp, body, password := x.create(token, "Phone")
		if resp.StatusCode != http.StatusForbidden || password != "" || !strings.Contains(body, "Nothing was changed") {
			t.Errorf("%s CSRF token on create: %s, want the 403 page", name, resp.Status)
		}
	}
	_, _, password := x.create(csrf, "Kept")
	v, _ := x.store.Verify(t.Context(), aliceJID, password, "")
	resp, _ := x.post("/app-passwords/revoke", url.Values{"csrf": {"forged"}, "id": {v.ID}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("forged CSRF token on revoke: %s, want 403", resp.Status)
	}
	resp, _ = x.post("/logout", url.Values{})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign out without a CSRF token: %s, want 403", resp.Status)
	}
	if l := x.list(aliceJID); len(l) != 1 || !l[0].RevokedAt.IsZero() {
		t.Fatalf("after refused forms: %+v, want the one active password", l)
	}
	if _, body := x.get("/"); !strings.Contains(body, "Kept") {
		t.Fatal("still signed in: the home page should list the password")
	}
}

func TestCallbackState(t *testing.T) {
	x := newHarness(t)
	callback := x.startLogin()
	u, _ := url.Parse(callback)
	q := u.Query()
	q.Set("state", "not-the-state")
	u.RawQuery = q.Encode()
	if resp, body := x.get(u.String()); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "does not belong") {
		t.Fatalf("wrong state: %s, want the 400 page", resp.Status)
	}

	callback = x.startLogin()
	login := x.client.Jar.Cookies(mustURL(x.srv.URL + "/callback"))
	if resp, _ := x.get(callback); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("first callback: %s", resp.Status)
	}
	// Replay: the browser dropped the cookie, and one that kept it.
	if resp, _ := x.get(callback); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("replay without the cookie: %s, want 400", resp.Status)
	}
	x.client.Jar.SetCookies(mustURL(x.srv.URL+"/callback"), login)
	if resp, body := x.get(callback); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "already") {
		t.Errorf("replay with the cookie: %s, want the 400 page", resp.Status)
	}
}

func TestWrongNonceRefused(t *testing.T) {
	x := newHarness(t)
	x.idp.change(func(f *fakeIdP) { f.wrongNonce = true })
	resp, body := x.get(x.startLogin())
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "could not be verified") {
		t.Fatalf("wrong nonce: %s, want the 403 page", resp.Status)
	}
	if !x.signedOut() {
		t.Fatal("a session started with the wrong nonce")
	}
}

// The IdP failing mid-sign-in, or not issuing a refresh token, gives a
// readable page with a gateway status and starts no session.
func TestIdPFailuresArePages(t *testing.T) {
	t.Run("no refresh token", func(t *testing.T) {
		x := newHarness(t)
		x.idp.change(func(f *fakeIdP) { f.noRefresh = true })
		resp, body := x.get(x.startLogin())
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "no refresh token") {
			t.Fatalf("sign-in without a refresh token: %s, want the 502 page", resp.Status)
		}
		if !x.signedOut() {
			t.Fatal("a session started without a refresh token")
		}
	})
	t.Run("IdP gone at the code exchange", func(t *testing.T) {
		x := newHarness(t)
		callback := x.startLogin()
		x.idp.srv.Close()
		resp, body := x.get(callback)
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "try again later") {
			t.Fatalf("code exchange with the IdP down: %s, want the 502 page", resp.Status)
		}
	})
}

func TestLabels(t *testing.T) {
	x := newHarness(t)
	csrf := x.signIn()
	resp, body, password := x.create(csrf, strings.Repeat("x", credstore.MaxLabelLength+1))
	if resp.StatusCode != http.StatusBadRequest || password != "" || !strings.Contains(body, "No password was created") {
		t.Fatalf("oversized label: %s, want the 400 page", resp.Status)
	}
	resp, _ = x.post("/app-passwords", url.Values{"csrf": {csrf}, "label": {strings.Repeat("x", 5000)}})
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized form: %s, want 413", resp.Status)
	}
	if n := len(x.list(aliceJID)); n != 0 {
		t.Fatalf("%d passwords after refused labels, want 0", n)
	}

	html := `<script>alert(1)</script><b>Phone</b>`
	if resp, body, _ := x.create(csrf, html); resp.StatusCode != http.StatusOK || strings.Contains(body, html) {
		t.Fatalf("HTML label on the created page: %s, raw HTML in the page: %v", resp.Status, strings.Contains(body, html))
	}
	_, body = x.get("/")
	if strings.Contains(body, "<script>alert") || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatal("the home page does not show the HTML label escaped")
	}
}

func TestSecurityHeaders(t *testing.T) {
	x := newHarness(t)
	for _, path := range []string{"/", "/no-such-page", "/static/portal.css"} {
		resp, _ := x.get(path)
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "form-action 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: X-Content-Type-Options %q, Referrer-Policy %q", path, h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"))
		}
	}
	if resp, _ := x.get("/static/"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("static directory listing: %s, want 404", resp.Status)
	}
	resp, _ := x.get("/login")
	for _, c := range resp.Cookies() {
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/callback" {
			t.Errorf("login cookie %s: HttpOnly %v, SameSite %v, path %q", c.Name, c.HttpOnly, c.SameSite, c.Path)
		}
	}
}

func TestSecureCookiesOverHTTPS(t *testing.T) {
	x := newHarness(t)
	h, err := New(Config{PublicURL: "https://xmpp.example.org/account", Domain: "example.org", IdP: x.oauth, Store: x.store})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://xmpp.example.org/account/login", nil))
	resp := rec.Result()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("/account/login: %s", resp.Status)
	}
	target, _ := url.Parse(resp.Header.Get("Location"))
	if got := target.Query().Get("redirect_uri"); got != "https://xmpp.example.org/account/callback" {
		t.Errorf("redirect_uri = %q, want the public URL's callback", got)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://xmpp.example.org/account", nil))
	if loc := rec.Result().Header.Get("Location"); loc != "/account/" {
		t.Errorf("the public URL without its slash goes to %q, want /account/", loc)
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 || !cookies[0].Secure || !cookies[0].HttpOnly || cookies[0].Path != "/account/callback" {
		t.Fatalf("cookies over https: %+v, want one Secure HttpOnly cookie for /account/callback", cookies)
	}
}

// TestNoSecretsInLogs walks every page, the failures included, and then
// looks for each secret the walk handled in the captured log lines.
func TestNoSecretsInLogs(t *testing.T) {
	x := newHarness(t)
	callback := x.startLogin()
	cb, _ := url.Parse(callback)
	loginCookies := x.client.Jar.Cookies(mustURL(x.srv.URL + "/callback"))
	x.get(callback)
	x.get(callback) // replay
	csrf := x.csrf()
	sessionCookies := x.client.Jar.Cookies(mustURL(x.srv.URL + "/"))
	_, _, password := x.create(csrf, "Phone")
	x.create("forged", "Phone")
	x.post("/logout", url.Values{"csrf": {csrf}})

	logs := x.logs.String()
	if !strings.Contains(logs, "signed in") || !strings.Contains(logs, "CSRF") {
		t.Fatalf("the walk logged no sign-in or refusal; logs:\n%s", logs)
	}
	secrets := map[string]string{"app password": password, "refresh token": x.idp.refreshToken,
		"code": cb.Query().Get("code"), "state": cb.Query().Get("state"), "CSRF token": csrf}
	for _, c := range append(loginCookies, sessionCookies...) {
		secrets["cookie "+c.Name] = c.Value
	}
	for what, s := range secrets {
		if s == "" {
			t.Fatalf("%s: empty, the test lost track of it", what)
		}
		if strings.Contains(logs, s) {
			t.Errorf("the logs contain the %s", what)
		}
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
