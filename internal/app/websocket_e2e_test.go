package app_test

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// wsClient speaks RFC 7395 by hand: one element per message, both ways.
type wsClient struct {
	t  testing.TB
	ws *websocket.Conn
}

// startWSStack runs the proxy with a websocket listener as well.
func startWSStack(t testing.TB) *stack {
	t.Helper()
	env := testenv.Require(t)
	l := listenAny
	l.WebSocket = "127.0.0.1:0"
	return startStackFor(t, env, env.ProxyConfig(l, ""))
}

func (s *stack) dialWS(t testing.TB) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: s.tlsConfig()}}
	ws, _, err := websocket.Dial(ctx, "wss://"+s.ws+"/xmpp-websocket", &websocket.DialOptions{
		HTTPClient: hc, Subprotocols: []string{"xmpp"}, HTTPHeader: http.Header{"Origin": {"https://chat.example.com"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return &wsClient{t: t, ws: ws}
}

func (c *wsClient) send(msg string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// next reads one message and parses it as the standalone element it must be.
func (c *wsClient) next() element {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, b, err := c.ws.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var el element
	if err := xml.Unmarshal(b, &el); err != nil {
		c.t.Fatalf("message %q is not a standalone element: %v", b, err)
	}
	return el
}

// open sends <open/> and returns the features after the server's <open/>.
func (c *wsClient) open(domain string) element {
	c.t.Helper()
	c.send("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='" + domain + "' version='1.0'/>")
	if el := c.next(); el.XMLName != (xml.Name{Space: "urn:ietf:params:xml:ns:xmpp-framing", Local: "open"}) {
		c.t.Fatalf("want <open/>, got %v", el.XMLName)
	}
	f := c.next()
	if f.XMLName != (xml.Name{Space: "http://etherx.jabber.org/streams", Local: "features"}) {
		c.t.Fatalf("want stream features, got %v %s", f.XMLName, f.Inner)
	}
	return f
}

// loginWS logs in with SASL PLAIN and restarts the stream; it returns the
// upstream's features.
func (s *stack) loginWS(t testing.TB, user, password string) (*wsClient, element) {
	t.Helper()
	c := s.dialWS(t)
	if f := c.open(s.env.Prosody.Domain); !strings.Contains(f.Inner, "<mechanism>PLAIN</mechanism>") {
		t.Fatalf("no PLAIN offered: %s", f.Inner)
	}
	c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + b64(plainPayload("", user, password)) + "</auth>")
	if el := c.next(); el.XMLName.Local != "success" {
		t.Fatalf("login as %s: got <%s>%s", user, el.XMLName.Local, el.Inner)
	}
	return c, c.open(s.env.Prosody.Domain)
}

func (c *wsClient) bind(resource string) string {
	c.t.Helper()
	return bindResource(c.t, c.send, c.next, resource)
}

// awaitMessage reads until a message whose body contains text (acks and
// presences on the way are skipped, at most a few).
func awaitMessage(t testing.TB, next func() element, text string) element {
	t.Helper()
	for range 20 {
		el := next()
		if el.XMLName.Local == "message" && strings.Contains(el.Inner, text) {
			return el
		}
	}
	t.Fatalf("no message with %q", text)
	return element{}
}

// A WebSocket client logs in with the IdP password (checked at Glewlwyd),
// chats with a TCP client through the real Prosody, loses its WebSocket, and
// resumes the same XEP-0198 session through a new one: the message sent
// while it was away arrives once.
func TestWebSocketChatAndResume(t *testing.T) {
	s := startWSStack(t)
	alicePW, bobPW := s.env.IdP.Users["alice"], s.env.IdP.Users["bob"]

	bob := s.loginPlain(t, "bob", bobPW)
	bob.open(s.env.Prosody.Domain)
	bobJID := bob.bind("desk")
	bob.send("<presence/>")

	alice, f := s.loginWS(t, "alice", alicePW)
	if !strings.Contains(f.Inner, "urn:xmpp:sm:3") {
		t.Fatalf("no stream management offered: %s", f.Inner)
	}
	aliceJID := alice.bind("browser")
	alice.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
	enabled := alice.next()
	if enabled.XMLName.Local != "enabled" || enabled.attr("id") == "" {
		t.Fatalf("want <enabled id=...>, got <%s>", enabled.XMLName.Local)
	}
	alice.send("<presence xmlns='jabber:client'/>")

	alice.send("<message xmlns='jabber:client' to='" + bobJID + "' type='chat'><body>hello from the browser</body></message>")
	awaitMessage(t, bob.next, "hello from the browser")
	bob.send("<message to='" + aliceJID + "' type='chat'><body>hello from TCP &amp; co</body></message>")
	got := awaitMessage(t, alice.next, "hello from TCP")
	if !strings.Contains(got.Inner, "hello from TCP &amp; co") || got.attr("from") != bobJID {
		t.Fatalf("alice got %s from %s", got.Inner, got.attr("from"))
	}

	// The WebSocket is cut (no <close/>, no close frame): the session stays resumable.
	_ = alice.ws.CloseNow()
	bob.send("<message to='" + aliceJID + "' type='chat'><body>while you were away</body></message>")

	again, f2 := s.loginWS(t, "alice", alicePW)
	if !strings.Contains(f2.Inner, "urn:xmpp:sm:3") {
		t.Fatalf("no stream management on the new WebSocket: %s", f2.Inner)
	}
	again.send("<resume xmlns='urn:xmpp:sm:3' h='0' previd='" + enabled.attr("id") + "'/>")
	if el := again.next(); el.XMLName.Local != "resumed" {
		t.Fatalf("want <resumed/>, got <%s>%s", el.XMLName.Local, el.Inner)
	}
	var away int
	for range 20 {
		el := again.next()
		if el.XMLName.Local == "message" && strings.Contains(el.Inner, "while you were away") {
			away++
			// Ask for an ack and see that nothing else of that body follows it.
			again.send("<r xmlns='urn:xmpp:sm:3'/>")
			continue
		}
		if el.XMLName.Local == "a" && away > 0 {
			break
		}
	}
	if away != 1 {
		t.Fatalf("the message sent while away arrived %d times", away)
	}
}

// A WebSocket client with a wrong password gets the SASL failure as a
// message and may try again, as over TCP.
func TestWebSocketWrongPassword(t *testing.T) {
	s := startWSStack(t)
	c := s.dialWS(t)
	c.open(s.env.Prosody.Domain)
	c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + b64(plainPayload("", "alice", "wrong")) + "</auth>")
	if el := c.next(); el.XMLName.Local != "failure" || el.child() != "not-authorized" {
		t.Fatalf("want failure not-authorized, got <%s>%s", el.XMLName.Local, el.Inner)
	}
	c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + b64(plainPayload("", "alice", s.env.IdP.Users["alice"])) + "</auth>")
	if el := c.next(); el.XMLName.Local != "success" {
		t.Fatalf("want success, got <%s>%s", el.XMLName.Local, el.Inner)
	}
}

func b64(p []byte) string { return base64.StdEncoding.EncodeToString(p) }

// The other credentials work over WebSocket as over TCP, through the same
// Authenticator: an OAUTHBEARER token from Glewlwyd and an app password; and
// revoking the app password ends its WebSocket session with a not-authorized
// stream error message, then <close/>.
func TestWebSocketTokenAndAppPassword(t *testing.T) {
	env := testenv.Require(t)
	l := listenAny
	l.WebSocket = "127.0.0.1:0"
	s := startStackFor(t, env, env.ProxyConfig(l, storeConfig(t, "15m")))
	domain := s.env.Prosody.Domain

	c := s.dialWS(t)
	c.open(domain)
	c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='OAUTHBEARER'>" + b64(bearerPayload("", idpToken(t, env, "alice"))) + "</auth>")
	if el := c.next(); el.XMLName.Local != "success" {
		t.Fatalf("OAUTHBEARER over WebSocket: got <%s>%s", el.XMLName.Local, el.Inner)
	}
	c.open(domain)
	c.bind("token")

	ap, pw := s.newAppPassword(t, "carol", s.env.IdP.Users["carol"], "browser")
	phone, _ := s.loginWS(t, "carol", pw)
	phone.bind("browser")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.app.CredentialStore().Revoke(ctx, s.jid("carol"), ap.ID); err != nil {
		t.Fatal(err)
	}
	phone.expectStreamError("not-authorized", "app password or device was revoked")
}

// expectStreamError reads past acks and presences to a stream error with cond
// and text, which <close/> must follow.
func (c *wsClient) expectStreamError(cond, text string) {
	c.t.Helper()
	for range 10 {
		el := c.next()
		if el.XMLName.Local != "error" {
			continue
		}
		if el.child() != cond || !strings.Contains(el.Inner, text) {
			c.t.Fatalf("stream error %s, want %s with %q", el.Inner, cond, text)
		}
		if end := c.next(); end.XMLName.Local != "close" {
			c.t.Fatalf("after the stream error: <%s>", end.XMLName.Local)
		}
		return
	}
	c.t.Fatal("no stream error")
}

// The session recheck covers WebSocket sessions: a token revoked at Glewlwyd
// ends its session within the interval, RFC 7395 style.
func TestWebSocketTokenSessionRechecked(t *testing.T) {
	env := testenv.Require(t)
	l := listenAny
	l.WebSocket = "127.0.0.1:0"
	s := startStackFor(t, env, env.ProxyConfig(l, "sessions: {recheck: 1s}\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := env.IdP.PasswordToken(ctx, "bob", env.IdP.Users["bob"])
	if err != nil {
		t.Fatal(err)
	}
	c := s.dialWS(t)
	c.open(env.Prosody.Domain)
	c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='OAUTHBEARER'>" + b64(bearerPayload("", tok)) + "</auth>")
	if el := c.next(); el.XMLName.Local != "success" {
		t.Fatalf("OAUTHBEARER login: <%s>%s", el.XMLName.Local, el.Inner)
	}
	c.open(env.Prosody.Domain)
	c.bind("token-browser")
	if err := env.IdP.Revoke(ctx, tok); err != nil {
		t.Fatal(err)
	}
	c.expectStreamError("not-authorized", "identity provider")
}
