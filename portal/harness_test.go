package portal

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/credstore"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/oauthx"
)

// harness is a portal on a loopback server, signed in against a fake IdP,
// with a real SQLite credential store and every log line captured.
type harness struct {
	t      *testing.T
	idp    *fakeIdP
	oauth  *oauthx.Client
	store  *credstore.Store
	srv    *httptest.Server
	logs   *testenv.LogBuffer
	client *http.Client // keeps cookies, follows no redirects
}

func newHarness(t *testing.T) *harness {
	x := &harness{t: t, idp: newFakeIdP(t), logs: new(testenv.LogBuffer)}
	log := zerolog.New(x.logs)
	x.oauth = startOAuth(t, oauthx.Config{Issuer: x.idp.srv.URL, ClientID: fakeClientID, ClientSecret: fakeClientSecret,
		Timeout: 5 * time.Second, Logger: log})
	x.store = openStore(t)
	x.srv = httptest.NewUnstartedServer(nil)
	h, err := New(Config{
		PublicURL: "http://" + x.srv.Listener.Addr().String(), Domain: "example.org",
		Ports: []Port{{Port: 5222}, {Port: 5223, DirectTLS: true}}, IdP: x.oauth, Store: x.store, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	x.srv.Config.Handler = h
	x.srv.Start()
	t.Cleanup(x.srv.Close)
	jar, _ := cookiejar.New(nil)
	x.client = &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return x
}

// startOAuth starts an IdP client and waits for its metadata and keys.
func startOAuth(t *testing.T, cfg oauthx.Config) *oauthx.Client {
	t.Helper()
	c, err := oauthx.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.Start(context.Background())
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// openStore opens a credential store in a new SQLite file.
func openStore(t *testing.T) *credstore.Store {
	t.Helper()
	store, err := credstore.Open(t.Context(), credstore.Config{
		Path: filepath.Join(t.TempDir(), "creds.db"), HashKey: bytes.Repeat([]byte("h"), 32),
		EncryptionKeys: []credstore.EncryptionKey{{ID: "k1", Key: bytes.Repeat([]byte("e"), 32)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// do sends a request and returns the answer with its body read.
func (x *harness) do(req *http.Request) (*http.Response, string) {
	x.t.Helper()
	resp, err := x.client.Do(req)
	if err != nil {
		x.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (x *harness) get(pathOrURL string) (*http.Response, string) {
	x.t.Helper()
	if strings.HasPrefix(pathOrURL, "/") {
		pathOrURL = x.srv.URL + pathOrURL
	}
	req, _ := http.NewRequest(http.MethodGet, pathOrURL, nil)
	return x.do(req)
}

func (x *harness) post(path string, form url.Values) (*http.Response, string) {
	x.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, x.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return x.do(req)
}

// startLogin follows /login to the fake IdP and returns the callback URL
// it redirects back to (not yet visited).
func (x *harness) startLogin() string {
	x.t.Helper()
	resp, _ := x.get("/login")
	if resp.StatusCode != http.StatusSeeOther {
		x.t.Fatalf("/login: %s, want 303 to the IdP", resp.Status)
	}
	resp, _ = x.get(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound {
		x.t.Fatalf("IdP /auth: %s", resp.Status)
	}
	return resp.Header.Get("Location")
}

// signIn completes a sign-in and returns the CSRF token of the home page.
func (x *harness) signIn() string {
	x.t.Helper()
	resp, _ := x.get(x.startLogin())
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		x.t.Fatalf("callback: %s to %q, want 303 to /", resp.Status, resp.Header.Get("Location"))
	}
	return x.csrf()
}

// signedOut reports whether the home page is the sign-in page.
func (x *harness) signedOut() bool {
	x.t.Helper()
	resp, body := x.get("/")
	return resp.StatusCode == http.StatusOK && strings.Contains(body, `id="signin"`)
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (x *harness) csrf() string {
	x.t.Helper()
	resp, body := x.get("/")
	m := csrfInput.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		x.t.Fatalf("home page: %s without a CSRF field", resp.Status)
	}
	return m[1]
}

var createdPassword = regexp.MustCompile(`id="app-password"[^>]*>([a-z-]+)<`)

// create posts the new-password form and returns the answer and the shown
// password ("" if none).
func (x *harness) create(csrf, label string) (*http.Response, string, string) {
	x.t.Helper()
	resp, body := x.post("/app-passwords", url.Values{"csrf": {csrf}, "label": {label}})
	if m := createdPassword.FindStringSubmatch(body); m != nil {
		return resp, body, m[1]
	}
	return resp, body, ""
}

func (x *harness) list(jid string) []credstore.AppPassword {
	x.t.Helper()
	l, err := x.store.List(x.t.Context(), jid)
	if err != nil {
		x.t.Fatal(err)
	}
	return l
}
