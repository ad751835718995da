package app_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/security"
	"github.com/chromedp/chromedp"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/webdemo"
)

// servePage serves the Converse.js page until the test ends; it returns its URL.
func servePage(t testing.TB, dir string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: webdemo.Handler(dir), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/"
}

// Converse.js 14 in a headless Chromium logs in through the proxy's WebSocket
// with the IdP password (checked at Glewlwyd), opens a chat with a TCP client
// and writes to it through the real Prosody, and shows that client's reply in
// the chat.
// CONVERSE_SCREENSHOT=docs/websocket-converse.png keeps a picture of it.
func TestConverseInBrowser(t *testing.T) {
	dir := testenv.RequireWebClients(t)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "converse.js", "dist", "converse.min.js")); err != nil {
		t.Fatalf("converse.js is not installed: %v", err)
	}
	t.Run("idp-password", func(t *testing.T) {
		s := startWSStack(t)
		converseChat(t, s, dir, s.env.IdP.Users["alice"], os.Getenv("CONVERSE_SCREENSHOT"))
	})
	// The same with an app password (the self-service page's), checked locally.
	t.Run("app-password", func(t *testing.T) {
		env := testenv.Require(t)
		l := listenAny
		l.WebSocket = "127.0.0.1:0"
		s := startStackFor(t, env, env.ProxyConfig(l, storeConfig(t, "15m")))
		_, pw := s.newAppPassword(t, "alice", env.IdP.Users["alice"], "Converse in the browser")
		converseChat(t, s, dir, pw, "")
		if n := s.scrape(t, `xmpp_oauth_proxy_app_password_logins_total{result="ok"}`); n < 1 {
			t.Fatalf("Converse's login was not an app-password login (counted %v)", n)
		}
	})
	// With SCRAM offered, Strophe (inside Converse) prefers SCRAM-SHA-256 to
	// PLAIN: the app password never crosses the WebSocket.
	t.Run("app-password-scram", func(t *testing.T) {
		env := testenv.Require(t)
		l := listenAny
		l.WebSocket = "127.0.0.1:0"
		store := strings.Replace(storeConfig(t, "15m"), "grace: 1h}", "grace: 1h, scram: on}", 1)
		s := startStackFor(t, env, env.ProxyConfig(l, store))
		_, pw := s.newAppPassword(t, "alice", env.IdP.Users["alice"], "Converse in the browser")
		converseChat(t, s, dir, pw, "")
		if n := s.scrape(t, `xmpp_oauth_proxy_sasl_attempts_total{mechanism="SCRAM-SHA-256",result="success"}`); n != 1 {
			t.Fatalf("Converse's SCRAM-SHA-256 logins counted %v, want 1", n)
		}
		if strings.Contains(s.logs.String(), pw) {
			t.Fatal("the app password appears in the log")
		}
	})
}

// converseChat has Converse log in as alice with password over s's WebSocket,
// chat with bob on TCP and show bob's reply; shot, if set, keeps a picture.
func converseChat(t *testing.T, s *stack, dir, password, shot string) {
	domain := s.env.Prosody.Domain
	bob := s.loginPlain(t, "bob", s.env.IdP.Users["bob"])
	bob.open(domain)
	bobJID := bob.bind("desk")
	bob.send("<presence/>")

	// Bob in Alice's roster, so that Converse opens a chat with a contact.
	roster := s.loginPlain(t, "alice", s.env.IdP.Users["alice"])
	roster.open(domain)
	roster.bind("setup")
	roster.send("<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='bob@" + domain + "' name='Bob'/></query></iq>")
	for i := 0; roster.next().attr("id") != "r1"; i++ { // a roster push may come first
		if i == 10 {
			t.Fatal("no answer to the roster set")
		}
	}
	roster.send("</stream:stream>")

	b := testenv.RequireBrowser(t, 1100, 700)
	ctx, cancel := context.WithTimeout(b.Ctx, 90*time.Second)
	defer cancel()
	q := url.Values{"ws": {"wss://" + s.ws + "/xmpp-websocket"}, "jid": {"alice@" + domain}, "password": {password}}
	page := servePage(t, dir) + "?" + q.Encode()
	ignoreCerts := chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		return cdp.Call(ctx, tg, security.SetIgnoreCertificateErrors, security.SetIgnoreCertificateErrorsParams{Ignore: true})
	})
	err := chromedp.Do(ctx,
		ignoreCerts, // the test certificate is self-signed
		chromedp.Navigate(page),
		voidOf(chromedp.Poll[bool](`window.__events && window.__events.includes('connected')`, chromedp.WithPollingTimeout(60*time.Second))),
	)
	if err != nil {
		events, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__events || []`))
		t.Fatalf("converse did not connect (events %q): %v\nproxy log:\n%s", events, err, s.logs.String())
	}

	// Alice opens a chat with Bob and writes to him, as the page's send button would.
	send := `(async () => { const c = await window.__api.chats.open('bob@` + domain + `', {}, true); await c.sendMessage({ body: 'hi Bob, from Converse' }); return true; })()`
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](send, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
	got := awaitMessage(t, bob.next, "hi Bob, from Converse")
	aliceJID := got.attr("from")
	if !strings.HasPrefix(aliceJID, "alice@"+domain+"/") {
		t.Fatalf("message from %q", aliceJID)
	}
	bob.send("<message to='" + aliceJID + "' type='chat' from='" + bobJID + "'><body>hello Alice, Bob here on TCP &amp; co</body></message>")
	if _, err := chromedp.Run(ctx,
		chromedp.Poll[bool](`window.__received.includes('hello Alice, Bob here on TCP & co') && document.body.innerText.includes('hello Alice, Bob here on TCP & co')`, chromedp.WithPollingTimeout(30*time.Second)),
	); err != nil {
		t.Fatalf("the reply never showed in Converse's chat: %v", err)
	}
	if shot != "" {
		if err := b.Screenshot(shot); err != nil {
			t.Fatal(err)
		}
	}
}

// voidOf drops an action's result, to run it among other steps.
func voidOf[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, tg)
		return chromedp.Void{}, err
	}
}
