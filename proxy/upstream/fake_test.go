package upstream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeServer accepts one connection on loopback and runs script on it.
func fakeServer(t *testing.T, script func(c *fakeConn)) string {
	t.Helper()
	return fakeServerN(t, nil, script)
}

type fakeConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

// until reads up to and including the first occurrence of s.
func (f *fakeConn) until(s string) string {
	var b bytes.Buffer
	for !strings.HasSuffix(b.String(), s) {
		c, err := f.r.ReadByte()
		if err != nil {
			f.t.Errorf("fake server waiting for %q: %v (got %q)", s, err, b.String())
			return b.String()
		}
		b.WriteByte(c)
	}
	return b.String()
}

// header reads the client's stream header.
func (f *fakeConn) header() string { return f.until("version='1.0'>") }

// hold keeps the stream open until the client hangs up.
func (f *fakeConn) hold() { _, _ = f.r.WriteTo(io.Discard) }

func (f *fakeConn) send(s string) { _, _ = f.c.Write([]byte(s)) }

const fakeHeader = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='localhost' id='x' version='1.0'>"

func fakeFeatures(mechs ...string) string {
	s := "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
	for _, m := range mechs {
		s += "<mechanism>" + m + "</mechanism>"
	}
	return s + "</mechanisms></stream:features>"
}

// authPayload extracts and decodes the <auth/> body.
func authPayload(t *testing.T, auth string) string {
	t.Helper()
	i := strings.Index(auth, "'>")
	j := strings.LastIndex(auth, "</auth>")
	if i < 0 || j < i {
		t.Fatalf("not an auth element: %q", auth)
	}
	b, err := base64.StdEncoding.DecodeString(auth[i+2 : j])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func fakeDialer(t *testing.T, addr, creds string) *Dialer {
	t.Helper()
	d, err := New(Config{Domain: "localhost", Address: addr, TLSMode: TLSNone, Credentials: creds,
		SecretKey: testKey, AdminJID: "admin@localhost", AdminPassword: "x", LoginTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// OAUTHBEARER (RFC 7628) as Prosody 13's OAuth module would see it: no real
// Prosody 13 exists here, so the bytes are checked on a scripted server.
func TestTokenSendsOAuthBearer(t *testing.T) {
	got := make(chan string, 1)
	addr := fakeServer(t, func(c *fakeConn) {
		c.header()
		c.send(fakeHeader + fakeFeatures("PLAIN", "OAUTHBEARER"))
		got <- authPayload(t, c.until("</auth>"))
		c.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
		c.hold()
	})
	d := fakeDialer(t, addr, CredToken)
	s, err := d.Login(t.Context(), Credentials{Username: "alice", Token: "eyJ.tok.en"})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Conn.Close()
	if want := "n,a=alice@localhost,\x01auth=Bearer eyJ.tok.en\x01\x01"; <-got != want {
		t.Fatalf("wrong OAUTHBEARER message")
	}
}

func TestTokenRefused(t *testing.T) {
	answer := make(chan string, 1)
	addr := fakeServer(t, func(c *fakeConn) {
		c.header()
		c.send(fakeHeader + fakeFeatures("OAUTHBEARER"))
		c.until("</auth>")
		c.send("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" +
			base64.StdEncoding.EncodeToString([]byte(`{"status":"invalid_token"}`)) + "</challenge>")
		answer <- c.until("</response>")
		c.send("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>")
	})
	d := fakeDialer(t, addr, CredToken)
	_, err := d.Login(t.Context(), Credentials{Username: "alice", Token: "expired"})
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("err = %v, want ErrRejected", err)
	}
	if got := <-answer; !strings.Contains(got, ">AQ==</response>") {
		t.Fatalf("client answered the error challenge with %q, want %%x01", got)
	}
}

func TestTokenNeedsOAuthBearer(t *testing.T) {
	addr := fakeServer(t, func(c *fakeConn) {
		c.header()
		c.send(fakeHeader + fakeFeatures("SCRAM-SHA-1", "PLAIN"))
	})
	d := fakeDialer(t, addr, CredToken)
	if _, err := d.Login(t.Context(), Credentials{Username: "alice", Token: "t"}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

// Bytes the upstream sent right behind <success/> belong to the client.
func TestBufferedAfterSuccess(t *testing.T) {
	extra := "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
	addr := fakeServer(t, func(c *fakeConn) {
		c.header()
		c.send(fakeHeader + fakeFeatures("PLAIN"))
		if p := authPayload(t, c.until("</auth>")); p != "\x00bob\x00pw" {
			t.Errorf("PLAIN message %q", p)
		}
		c.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'></success>" + extra)
		c.hold()
	})
	d := fakeDialer(t, addr, CredPassthrough)
	s, err := d.Login(t.Context(), Credentials{Username: "bob", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Conn.Close()
	// The write may have been split; what Login did not buffer is still on the socket.
	rest := make([]byte, len(extra)-len(s.Buffered))
	_ = s.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := readFull(s.Conn, rest); err != nil {
		t.Fatal(err)
	}
	if got := string(s.Buffered) + string(rest); got != extra {
		t.Fatalf("after success: %q, want %q", got, extra)
	}
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// A forged <success/> (wrong SCRAM server signature) must not be trusted.
func TestScramServerSignatureChecked(t *testing.T) {
	addr := fakeServer(t, func(c *fakeConn) {
		c.header()
		c.send(fakeHeader + fakeFeatures("SCRAM-SHA-1"))
		first := authPayload(t, c.until("</auth>"))
		nonce := first[strings.Index(first, "r=")+2:]
		sf := "r=" + nonce + "srv,s=" + base64.StdEncoding.EncodeToString([]byte("salt")) + ",i=4096"
		c.send("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64.StdEncoding.EncodeToString([]byte(sf)) + "</challenge>")
		c.until("</response>")
		c.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" +
			base64.StdEncoding.EncodeToString([]byte("v="+base64.StdEncoding.EncodeToString(make([]byte, 20)))) + "</success>")
	})
	d := fakeDialer(t, addr, CredPassthrough)
	_, err := d.Login(t.Context(), Credentials{Username: "bob", Password: "pw"})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "server validation failed") {
		t.Fatalf("err = %v, want ErrUnavailable for the server signature", err)
	}
}

// Plaintext sent after <proceed/> would be read as if it came through TLS.
func TestStartTLSInjectionRefused(t *testing.T) {
	addr := fakeServer(t, func(c *fakeConn) {
		c.until("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
		c.send(fakeHeader + "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>" +
			"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><injected/>")
		c.hold()
	})
	d, err := New(Config{Domain: "localhost", Address: addr, Credentials: CredPassthrough})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Login(t.Context(), Credentials{Username: "bob", Password: "pw"})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "after <proceed/>") {
		t.Fatalf("err = %v", err)
	}
}

func TestStreamErrorAndHangs(t *testing.T) {
	// Each case names the cause the error must carry, not just its class: a huge
	// element must fail on the size limit, not by waiting for the timeout.
	cases := map[string]struct {
		script func(c *fakeConn)
		cause  func(error) bool
	}{
		"stream error": {func(c *fakeConn) {
			c.header()
			c.send(fakeHeader + "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>")
		}, func(err error) bool {
			var se *streamError
			return errors.As(err, &se) && se.Condition == "host-unknown"
		}},
		"silent": {func(c *fakeConn) { c.hold() }, func(err error) bool {
			var ne net.Error
			return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
		}},
		"huge features": {func(c *fakeConn) {
			c.header()
			c.send(fakeHeader + "<stream:features>" + strings.Repeat("<x/>", maxElementBytes/4+1))
			c.hold()
		}, func(err error) bool { return errors.Is(err, errTooLarge) }},
		"no usable mechanism": {func(c *fakeConn) {
			c.header()
			c.send(fakeHeader + fakeFeatures("DIGEST-MD5"))
		}, func(err error) bool { return strings.Contains(err.Error(), "no usable SASL mechanism") }},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			addr := fakeServer(t, tc.script)
			d := fakeDialer(t, addr, CredPassthrough)
			// Short only where the timeout is the cause: under -race on a busy
			// machine reading 64 KiB of features can take longer than 300 ms.
			d.cfg.LoginTimeout = 5 * time.Second
			if name == "silent" {
				d.cfg.LoginTimeout = 300 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			_, err := d.Login(ctx, Credentials{Username: "bob", Password: "pw"})
			if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrRejected) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if !tc.cause(err) {
				t.Fatalf("err = %v: not the cause this case is about", err)
			}
		})
	}
}

func TestPasswordMechanismChoice(t *testing.T) {
	cases := []struct {
		offered []string
		secure  bool
		want    string
	}{
		{[]string{"PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256"}, true, "SCRAM-SHA-256"},
		{[]string{"PLAIN", "SCRAM-SHA-1"}, true, "SCRAM-SHA-1"},
		{[]string{"SCRAM-SHA-1-PLUS", "PLAIN"}, true, "PLAIN"},
		{[]string{"PLAIN"}, false, ""}, // plaintext to a remote host: never PLAIN
		{[]string{"DIGEST-MD5"}, true, ""},
	}
	for _, tc := range cases {
		got, err := passwordMechanism(tc.offered, tc.secure)
		if got != tc.want || (tc.want == "") != errors.Is(err, ErrUnavailable) {
			t.Errorf("%v secure=%v: %q %v, want %q", tc.offered, tc.secure, got, err, tc.want)
		}
	}
}

// The admin stream answers requests the upstream sends it (RFC 6120 8.2.3) and
// keeps working afterwards.
func TestAdminAnswersServerRequests(t *testing.T) {
	reply := make(chan string, 1)
	addr := fakeServer(t, func(c *fakeConn) {
		auth, bind := fakeAdminLogin(c, "<message from='someone@localhost'><body>ignored</body></message>"+
			"<iq type='get' id='ping&amp;1' from='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
		// Our ping answer and the first request race; sort them by type.
		exec, pong := c.until("</iq>"), c.until("</iq>")
		if strings.Contains(pong, "type='set'") {
			exec, pong = pong, exec
		}
		reply <- pong
		// A forged reply to the request, then the server's own.
		if !strings.Contains(exec, "id='xop1'") || !strings.Contains(exec, "action=\"execute\"") {
			t.Errorf("execute request %q", exec)
		}
		c.send("<iq type='result' id='xop1' from='mallory@localhost/x'><command xmlns='http://jabber.org/protocol/commands' node='n' status='completed'/></iq>" +
			"<iq type='error' id='xop1' from='localhost'><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
		if p := authPayload(t, auth); p != "\x00admin\x00x" {
			t.Errorf("admin PLAIN message %q", p)
		}
		if !strings.Contains(bind, "<resource>xmpp-oauth-proxy-") {
			t.Errorf("bind request %q", bind)
		}
		c.hold()
	})
	d := fakeDialer(t, addr, CredManaged)
	d.cfg.TakeOverExisting = true // so that setPassword runs a command
	defer d.Close()
	c, err := d.admin.conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// The forged "completed" reply is ignored; the server's forbidden counts.
	err = d.admin.command(t.Context(), nodeChangePassword, [][2]string{{"accountjid", "bob@localhost"}})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("err = %v, want forbidden", err)
	}
	got := <-reply
	for _, want := range []string{"type='error'", "id='ping&amp;1'", "to='localhost'", "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"} {
		if !strings.Contains(got, want) {
			t.Errorf("reply %q lacks %q", got, want)
		}
	}
	if c.isDone() {
		t.Fatalf("admin stream died: %v", c.err)
	}
}

// fakeAdminLogin plays the upstream side of the admin login (PLAIN, restart, bind),
// sends then what follows, and returns the client's <auth/> and bind request.
func fakeAdminLogin(c *fakeConn, then string) (auth, bind string) {
	c.header()
	c.send(fakeHeader + fakeFeatures("PLAIN"))
	auth = c.until("</auth>")
	c.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
	c.header()
	bind = c.until("</iq>")
	c.send(fakeHeader + "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>" +
		"<iq type='result' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>admin@localhost/r</jid></bind></iq>" + then)
	return auth, bind
}

// An admin stream that stops answering fails the request and is dropped, so the
// next provisioning dials a fresh one.
func TestAdminRequestTimeoutDropsStream(t *testing.T) {
	old := adminRequestTimeout
	adminRequestTimeout = 200 * time.Millisecond
	defer func() { adminRequestTimeout = old }()
	addr := fakeServer(t, func(c *fakeConn) {
		fakeAdminLogin(c, "")
		c.until("</iq>") // the execute request, never answered
		c.hold()
	})
	d := fakeDialer(t, addr, CredManaged)
	d.cfg.TakeOverExisting = true // so that setPassword runs a command
	defer d.Close()
	c, err := d.admin.conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	err = d.setPassword(t.Context(), "bob@localhost", "secret-value")
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrRejected) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "secret-value") {
		t.Fatal("error names the password")
	}
	if !c.isDone() {
		t.Fatal("a stream that does not answer was kept")
	}
}

// Cancelling the caller's context ends a login that waits on a silent upstream.
func TestLoginCancelled(t *testing.T) {
	heard := make(chan struct{})
	addr := fakeServer(t, func(c *fakeConn) {
		c.header()
		close(heard)
		c.hold()
	})
	d := fakeDialer(t, addr, CredPassthrough)
	d.cfg.LoginTimeout = time.Hour // only the cancel can end it
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-heard; cancel() }()
	_, err := d.Login(ctx, Credentials{Username: "bob", Password: "pw"})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}
