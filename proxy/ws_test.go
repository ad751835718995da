package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

const (
	wsOpen  = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/>"
	wsClose = "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"
	nsDecls = " xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
)

// serveWS runs a plain-HTTP WebSocket listener of e's server; it returns its URL.
func (e *env) serveWS(o WebSocketOptions) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.srv.ServeWebSocket(ctx, ln, o)
	}()
	e.t.Cleanup(func() { cancel(); <-done })
	return "ws://" + ln.Addr().String() + DefaultWebSocketPath
}

// wsClient is a hand-written RFC 7395 client: one message per element.
type wsClient struct {
	t  testing.TB
	ws *websocket.Conn
}

func dialWS(t testing.TB, url string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"xmpp"}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Sec-WebSocket-Protocol") != "xmpp" {
		t.Fatalf("subprotocol %q", resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	return &wsClient{t: t, ws: ws}
}

func (c *wsClient) send(msg string) {
	c.t.Helper()
	c.sendType(websocket.MessageText, msg)
}

func (c *wsClient) sendType(typ websocket.MessageType, msg string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, typ, []byte(msg)); err != nil {
		c.t.Fatal(err)
	}
}

// next reads one message; "" once the WebSocket is closed.
func (c *wsClient) next() string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	typ, b, err := c.ws.Read(ctx)
	if err != nil {
		if websocket.CloseStatus(err) == -1 && !errors.Is(err, io.EOF) {
			c.t.Fatal(err)
		}
		return ""
	}
	if typ != websocket.MessageText {
		c.t.Fatalf("a binary message")
	}
	return string(b)
}

func (c *wsClient) expect(want string) {
	c.t.Helper()
	if got := c.next(); got != want {
		c.t.Fatalf("got message %q, want %q", got, want)
	}
}

// expectPrefix reads a message and checks its start; it returns the message.
func (c *wsClient) expectPrefix(prefix string) string {
	c.t.Helper()
	got := c.next()
	if !strings.HasPrefix(got, prefix) {
		c.t.Fatalf("got message %q, want one starting %q", got, prefix)
	}
	return got
}

// expectStreamError reads the end of a stream: <stream:error> with cond, <close/>,
// then the WebSocket's close.
func (c *wsClient) expectStreamError(cond string) {
	c.t.Helper()
	got := c.next()
	if !strings.HasPrefix(got, "<stream:error"+nsDecls+"><"+cond+" ") {
		c.t.Fatalf("got %q, want a %s stream error", got, cond)
	}
	c.expect(wsClose)
	if got := c.next(); got != "" {
		c.t.Fatalf("after <close/>: %q", got)
	}
}

// loginWS runs open, SASL PLAIN and the restart over a WebSocket.
func loginWS(t testing.TB, url, pass string) *wsClient {
	c := dialWS(t, url)
	c.send(wsOpen)
	c.expectPrefix("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='example.com' id=")
	// Legacy SASL first, then SASL2 (sasl2.go), as over TCP.
	c.expectPrefix("<stream:features" + nsDecls + "><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>OAUTHBEARER</mechanism><mechanism>PLAIN</mechanism></mechanisms><authentication xmlns='urn:xmpp:sasl:2'>")
	c.send(plainAuth("juliet", pass))
	c.expect("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
	c.send(wsOpen)
	c.expect("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='up1' from='example.com' version='1.0'/>")
	c.expect("<stream:features" + nsDecls + "><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>")
	return c
}

// A WebSocket client logs in through the same SASL as TCP; its <open/> reaches
// the upstream as a stream header, its stanzas as they were, and the
// upstream's stanzas and end of stream come back as RFC 7395 messages.
func TestWebSocketLoginAndRelay(t *testing.T) {
	fromClient := make(chan string, 1)
	e := newEnv(t, func(c net.Conn) {
		br, hdr, err := answerRestart(c)
		if err != nil {
			return
		}
		got, _ := readThrough(br, "</message>")
		fromClient <- hdr + got
		_, _ = io.WriteString(c, "  <message from='romeo@example.com'><body>hi &amp; bye</body></message>\n</stream:stream>")
		_, _ = readThrough(br, "</stream:stream>")
	})
	c := loginWS(t, e.serveWS(WebSocketOptions{}), "s3cret")
	c.send("<message xmlns='jabber:client' to='romeo@example.com'><body>hello</body></message>")
	want := "<?xml version='1.0'?><stream:stream" + nsDecls + " to='example.com' version='1.0'><message xmlns='jabber:client' to='romeo@example.com'><body>hello</body></message>"
	if got := <-fromClient; got != want {
		t.Fatalf("upstream read %q, want %q", got, want)
	}
	c.expect("<message xmlns='jabber:client' from='romeo@example.com'><body>hi &amp; bye</body></message>")
	c.expect(wsClose)
	c.send(wsClose)
	if got := c.next(); got != "" {
		t.Fatalf("after the close handshake: %q", got)
	}
	if up := e.up.loginList(); len(up) != 1 || up[0].Username != "juliet" {
		t.Fatalf("upstream logins %+v", up)
	}
}

// Input RFC 7395 does not allow gets a stream error, then <close/>, and
// never reaches the SASL layer.
func TestWebSocketBadInput(t *testing.T) {
	e := newEnv(t, nil, func(cfg *Config) { cfg.MaxElementBytes = 4096 })
	url := e.serveWS(WebSocketOptions{})
	for name, tc := range map[string]struct {
		typ  websocket.MessageType
		msg  string
		cond string
	}{
		"two elements":     {websocket.MessageText, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'/><abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>", condNotWellFormed},
		"half an element":  {websocket.MessageText, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>", condNotWellFormed},
		"a stream header":  {websocket.MessageText, "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>", condNotWellFormed},
		"binary":           {websocket.MessageBinary, wsOpen, condBadFormat},
		"oversized":        {websocket.MessageText, "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='" + strings.Repeat("x", 5000) + "'/>", condPolicyViolation},
		"a comment":        {websocket.MessageText, "<!-- hi --><open/>", condRestrictedXML},
		"text":             {websocket.MessageText, "hello", condNotWellFormed},
		"unknown domain":   {websocket.MessageText, "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='nowhere.example' version='1.0'/>", condHostUnknown},
		"stanza before it": {websocket.MessageText, "<message xmlns='jabber:client'/>", condNotWellFormed},
	} {
		t.Run(name, func(t *testing.T) {
			c := dialWS(t, url)
			c.sendType(tc.typ, tc.msg)
			c.expectPrefix("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'")
			c.expectStreamError(tc.cond)
		})
	}
	if n := e.auth.callCount(); n != 0 {
		t.Fatalf("the authenticator was asked %d times", n)
	}
	waitFor(t, "every refused session to be gone", func() bool {
		e.srv.mu.Lock()
		defer e.srv.mu.Unlock()
		return len(e.srv.conns) == 0 && e.srv.admission.preAuth == 0
	})
}

// Revoking the credential of a WebSocket session ends it the RFC 7395 way.
func TestWebSocketRevocation(t *testing.T) {
	upEnd := make(chan string, 1)
	e := newEnv(t, func(c net.Conn) {
		br, _, err := answerRestart(c)
		if err != nil {
			return
		}
		rest, _ := io.ReadAll(br)
		upEnd <- string(rest)
	}, func(cfg *Config) { cfg.Domains[0].SASL.Authenticator = credAuth{} })
	c := loginWS(t, e.serveWS(WebSocketOptions{}), "app-1")
	if n := e.srv.EndSessions(SessionRef{CredentialID: "c1"}, "Your app password was revoked"); n != 1 {
		t.Fatalf("ended %d sessions", n)
	}
	got := c.next()
	want := "<stream:error" + nsDecls + "><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>Your app password was revoked</text></stream:error>"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	c.expect(wsClose)
	if up := <-upEnd; !strings.HasSuffix(up, streamClose) {
		t.Fatalf("upstream got %q, want a clean end", up)
	}
}

// Before the upgrade: wrong path, foreign origin, no xmpp subprotocol.
func TestWebSocketRefusedRequests(t *testing.T) {
	e := newEnv(t, nil)
	url := e.serveWS(WebSocketOptions{AllowedOrigins: []string{"https://chat.example.com"}})
	httpURL := "http" + strings.TrimPrefix(url, "ws")
	for name, tc := range map[string]struct {
		path, origin, proto string
		status              int
	}{
		"allowed origin":   {DefaultWebSocketPath, "https://chat.example.com", "xmpp", http.StatusSwitchingProtocols},
		"no origin":        {DefaultWebSocketPath, "", "xmpp", http.StatusSwitchingProtocols},
		"foreign origin":   {DefaultWebSocketPath, "https://evil.example", "xmpp", http.StatusForbidden},
		"no subprotocol":   {DefaultWebSocketPath, "", "", http.StatusBadRequest},
		"other protocol":   {DefaultWebSocketPath, "", "mqtt", http.StatusBadRequest},
		"wrong path":       {"/other", "", "xmpp", http.StatusNotFound},
		"not an upgrade 1": {DefaultWebSocketPath, "", "xmpp-nope", http.StatusBadRequest},
	} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, strings.TrimSuffix(httpURL, DefaultWebSocketPath)+tc.path, nil)
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "websocket")
			req.Header.Set("Sec-WebSocket-Version", "13")
			req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.proto != "" {
				req.Header.Set("Sec-WebSocket-Protocol", tc.proto)
			}
			resp, err := (&http.Client{Timeout: ioTimeout}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}

func TestForwardedClient(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	peer := netip.MustParseAddrPort("10.1.2.3:4444")
	for _, tc := range []struct {
		peer    netip.AddrPort
		headers map[string]string
		want    string
	}{
		{peer, map[string]string{"X-Forwarded-For": "203.0.113.7, 10.9.9.9"}, "203.0.113.7"},
		{peer, map[string]string{"X-Forwarded-For": "1.1.1.1, 203.0.113.7"}, "203.0.113.7"}, // the left one is the client's word
		{peer, map[string]string{"Forwarded": `for="[2001:db8::1]:80";proto=https`, "X-Forwarded-For": "1.1.1.1"}, "2001:db8::1"},
		{peer, map[string]string{"Forwarded": "for=unknown"}, "10.1.2.3"}, // no address: the proxy's own counts
		{peer, nil, "10.1.2.3"},
		{netip.MustParseAddrPort("192.0.2.1:5"), map[string]string{"X-Forwarded-For": "203.0.113.7"}, "192.0.2.1"}, // not trusted: ignored
	} {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		for k, v := range tc.headers {
			r.Header.Set(k, v)
		}
		got := forwardedClient(r, tc.peer, trusted)
		if got.Addr().String() != tc.want && got.String() != tc.want {
			t.Errorf("%v %v: got %v, want %s", tc.peer, tc.headers, got, tc.want)
		}
	}
}

// The proxy's own endings reach WebSocket clients the RFC 7395 way too:
// a pre-auth timeout, a refusal by the connection limits, an upstream
// element over the stanza limit, and a shutdown of a relayed session.
func TestWebSocketProxyEndings(t *testing.T) {
	t.Run("pre-auth timeout", func(t *testing.T) {
		e := newEnv(t, nil, func(cfg *Config) { cfg.PreAuthTimeout = 300 * time.Millisecond })
		c := dialWS(t, e.serveWS(WebSocketOptions{}))
		c.send(wsOpen)
		c.expectPrefix("<open ")
		c.expectPrefix("<stream:features")
		c.expectStreamError(condConnectionTimeout)
	})
	t.Run("refused by the limits", func(t *testing.T) {
		e := newEnv(t, nil, func(cfg *Config) { cfg.Limits.MaxPreAuthPerClient = 1 })
		url := e.serveWS(WebSocketOptions{})
		first := dialWS(t, url)
		first.send(wsOpen)
		first.expectPrefix("<open ")
		second := dialWS(t, url)
		second.expectPrefix("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'")
		second.expectStreamError(condPolicyViolation)
	})
	t.Run("upstream element too big", func(t *testing.T) {
		e := newEnv(t, func(c net.Conn) {
			if _, _, err := answerRestart(c); err != nil {
				return
			}
			_, _ = io.WriteString(c, "<message><body>"+strings.Repeat("x", 8192)+"</body></message>")
			_, _ = io.Copy(io.Discard, c)
		})
		c := loginWS(t, e.serveWS(WebSocketOptions{MaxStanzaBytes: 4096}), "s3cret")
		c.expectStreamError(condPolicyViolation)
	})
	t.Run("shutdown", func(t *testing.T) {
		e := newEnv(t, func(c net.Conn) {
			if _, _, err := answerRestart(c); err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, c)
		})
		c := loginWS(t, e.serveWS(WebSocketOptions{}), "s3cret")
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		e.shutdown = true
		done := make(chan error, 1)
		go func() { done <- e.srv.Shutdown(ctx) }()
		c.expectStreamError(condSystemShutdown)
		<-done
	})
}

// WebSocket pings stand in for whitespace keepalives: a client that answers
// none (it stopped reading, so its pongs never go out) is cut off.
func TestWebSocketUnansweredPingsEndTheSession(t *testing.T) {
	e := newEnv(t, nil)
	c := dialWS(t, e.serveWS(WebSocketOptions{PingInterval: 100 * time.Millisecond}))
	c.send(wsOpen) // and then read nothing: coder/websocket answers pings only while reading
	waitFor(t, "the proxy to drop the silent client", func() bool {
		e.srv.mu.Lock()
		defer e.srv.mu.Unlock()
		return len(e.srv.conns) == 0
	})
}

// Behind a trusted reverse proxy the client's address comes from
// X-Forwarded-For, and is what the upstream login is told (and the limits see);
// from anyone else the header is ignored.
func TestWebSocketForwardedAddress(t *testing.T) {
	for name, tc := range map[string]struct {
		trusted []netip.Prefix
		want    string
	}{
		"trusted proxy": {[]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "203.0.113.9"},
		"not trusted":   {nil, "127.0.0.1"},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil)
			url := e.serveWS(WebSocketOptions{TrustedProxies: tc.trusted})
			ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
			defer cancel()
			ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
				Subprotocols: []string{"xmpp"}, HTTPHeader: http.Header{"X-Forwarded-For": {"203.0.113.9"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer ws.CloseNow()
			c := &wsClient{t: t, ws: ws}
			c.send(wsOpen)
			c.expectPrefix("<open ")
			c.expectPrefix("<stream:features")
			c.send(plainAuth("juliet", "s3cret"))
			c.expect("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
			e.up.mu.Lock()
			from := e.up.froms[0]
			e.up.mu.Unlock()
			if host, _, _ := net.SplitHostPort(from.String()); host != tc.want {
				t.Fatalf("upstream login told of %v, want %s", from, tc.want)
			}
		})
	}
}
