package upstream

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// fakeRestart plays a server after <success/>: it reads the restart header,
// answers with features, then answers each request the script lists (matched by
// a substring), and finally sends tail unasked. It records what it read.
func fakeRestart(t *testing.T, features string, script [][2]string, tail string) (*Session, <-chan string) {
	t.Helper()
	client, server := tcpPair(t) // buffered, as a socket is: requests may come pipelined
	t.Cleanup(func() { client.Close(); server.Close() })
	got := make(chan string, 1)
	go func() {
		var seen strings.Builder
		defer func() { got <- seen.String() }()
		buf := make([]byte, 4096)
		read := func(want string) bool {
			for !strings.Contains(seen.String(), want) {
				n, err := server.Read(buf)
				if err != nil {
					return false
				}
				seen.Write(buf[:n])
			}
			return true
		}
		if !read("version='1.0'>") {
			return
		}
		_, _ = io.WriteString(server, "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s2' version='1.0'>"+features)
		for _, step := range script {
			if !read(step[0]) {
				return
			}
			answer := step[1]
			// Requests may come pipelined: the id is the last one before the
			// match, and what follows the match is kept for the next step.
			all := seen.String()
			at := strings.Index(all, step[0])
			if i := strings.LastIndex(all[:at], "id='proxy-"); i >= 0 && strings.Contains(answer, "ID") {
				id := all[i+4:]
				answer = strings.ReplaceAll(answer, "ID", id[:strings.IndexByte(id, '\'')])
			}
			_, _ = io.WriteString(server, answer)
			seen.Reset()
			seen.WriteString(all[at+len(step[0]):])
		}
		_, _ = io.WriteString(server, tail)
	}()
	return &Session{Conn: client}, got
}

// tcpPair is a connected pair of loopback TCP sockets.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if server, err = l.Accept(); err != nil {
		t.Fatal(err)
	}
	return client, server
}

const featuresAfterAuth = "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session>" +
	"<sm xmlns='urn:xmpp:sm:3'/><csi xmlns='urn:xmpp:csi:0'/></stream:features>"

func restartCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestRestartBindsEnablesAndKeepsBytes: bind, carbons and SM enable go upstream
// in that order; the features left are the server's without bind, session and
// sm; a stanza the server sent right after <enabled/> is kept for the client.
func TestRestartBindsEnablesAndKeepsBytes(t *testing.T) {
	s, _ := fakeRestart(t, featuresAfterAuth, [][2]string{
		{"<resource>phone.1</resource>", "<iq type='result' id='ID'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>a@example.com/phone.1</jid></bind></iq>"},
		{"urn:xmpp:carbons:2", "<iq type='result' id='ID'/>"},
		{"<enable xmlns='urn:xmpp:sm:3' resume='true'/>", "<enabled xmlns='urn:xmpp:sm:3' id='sm-1' resume='true' max='300' location='10.0.0.1:5222'/>"},
	}, "<message from='b@example.com'><body>early</body></message>")
	r, err := Restart(restartCtx(t), s, RestartRequest{Domain: "example.com", Resource: "phone.1", Carbons: true, EnableSM: &SMEnable{Resume: true}})
	if err != nil {
		t.Fatal(err)
	}
	if r.JID != "a@example.com/phone.1" || r.SM.Enabled == nil || r.SM.Enabled.ID != "sm-1" || r.SM.Enabled.Max != 300 {
		t.Fatalf("restart: %+v %+v", r, r.SM.Enabled)
	}
	if len(r.Features) != 1 || !strings.Contains(string(r.Features[0]), "urn:xmpp:csi:0") {
		t.Fatalf("features %q, want csi alone", r.Features)
	}
	// The unasked stanza may still be on its way: read what the session holds plus the conn.
	_ = r.Session.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest := string(r.Session.Buffered)
	buf := make([]byte, 256)
	for !strings.Contains(rest, "</message>") {
		n, err := r.Session.Conn.Read(buf)
		if err != nil {
			t.Fatalf("after %q: %v", rest, err)
		}
		rest += string(buf[:n])
	}
	if rest != "<message from='b@example.com'><body>early</body></message>" {
		t.Fatalf("bytes after the restart %q", rest)
	}
}

// TestRestartResume: a resume that works binds nothing and drops bind and sm
// from the features; one that fails reports the server's h and condition and
// binds as asked.
func TestRestartResume(t *testing.T) {
	s, _ := fakeRestart(t, featuresAfterAuth, [][2]string{
		{"<resume xmlns='urn:xmpp:sm:3' h='3' previd='sm-1'/>", "<resumed xmlns='urn:xmpp:sm:3' h='7' previd='sm-1'/>"},
	}, "")
	r, err := Restart(restartCtx(t), s, RestartRequest{Domain: "example.com", Resume: &SMResume{H: 3, PrevID: "sm-1"}, Resource: "x"})
	if err != nil || r.SM.Resumed == nil || r.SM.Resumed.H != 7 || r.JID != "" || len(r.Features) != 1 {
		t.Fatalf("resume: %+v, %v", r, err)
	}

	s, _ = fakeRestart(t, featuresAfterAuth, [][2]string{
		{"<resume", "<failed xmlns='urn:xmpp:sm:3' h='2'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>"},
		{"<resource>x</resource>", "<iq type='result' id='ID'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>a@example.com/x</jid></bind></iq>"},
	}, "")
	r, err = Restart(restartCtx(t), s, RestartRequest{Domain: "example.com", Resume: &SMResume{PrevID: "gone"}, Resource: "x"})
	if err != nil || r.SM.ResumeFailed == nil || r.SM.ResumeFailed.Condition != "item-not-found" || r.SM.ResumeFailed.H == nil ||
		*r.SM.ResumeFailed.H != 2 || r.JID != "a@example.com/x" {
		t.Fatalf("failed resume then bind: %+v, %v", r, err)
	}
}

// TestRestartFaults: a refused bind is ErrRejected, a server without bind or
// one that answers out of turn is ErrUnavailable, and the connection is closed.
func TestRestartFaults(t *testing.T) {
	cases := []struct {
		name     string
		features string
		script   [][2]string
		want     error
	}{
		{"bind refused", featuresAfterAuth, [][2]string{{"<resource>", "<iq type='error' id='ID'><error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"}}, ErrRejected},
		{"no bind offered", "<stream:features/>", nil, ErrUnavailable},
		{"answer with another id", featuresAfterAuth, [][2]string{{"<resource>", "<iq type='result' id='other'/>"}}, ErrUnavailable},
		{"stream error", featuresAfterAuth, [][2]string{{"<resource>", "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"}}, ErrUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, _ := fakeRestart(t, c.features, c.script, "")
			_, err := Restart(restartCtx(t), s, RestartRequest{Domain: "example.com", Resource: "x"})
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			if _, werr := s.Conn.Write([]byte("x")); werr == nil {
				t.Error("the upstream connection is still open")
			}
		})
	}
}

// TestRestartPipelinesBind: with nothing to resume, the bind and carbons
// requests go out with the stream header, before the server's features (one
// round trip fewer); the SM enable follows the features that offer it.
func TestRestartPipelinesBind(t *testing.T) {
	client, server := tcpPair(t)
	t.Cleanup(func() { client.Close(); server.Close() })
	go func() {
		_ = server.SetDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(server)
		var first strings.Builder
		for !strings.Contains(first.String(), "urn:xmpp:carbons:2'/></iq>") {
			b, err := br.ReadByte()
			if err != nil {
				return // the server sends nothing until both requests came
			}
			first.WriteByte(b)
		}
		ids := regexp.MustCompile(`id='(proxy-[0-9a-f]+)'`).FindAllStringSubmatch(first.String(), -1)
		if len(ids) != 2 {
			return
		}
		_, _ = io.WriteString(server, "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s2' version='1.0'>"+featuresAfterAuth+
			"<iq type='result' id='"+ids[0][1]+"'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>a@example.com/x</jid></bind></iq>"+
			"<iq type='result' id='"+ids[1][1]+"'/>")
		if rest, _ := br.ReadString('>'); rest == "<enable xmlns='urn:xmpp:sm:3'/>" {
			_, _ = io.WriteString(server, "<enabled xmlns='urn:xmpp:sm:3' id='sm-2'/>")
		}
	}()
	r, err := Restart(restartCtx(t), &Session{Conn: client}, RestartRequest{Domain: "example.com", Resource: "x", Carbons: true, EnableSM: &SMEnable{}})
	if err != nil {
		t.Fatal(err)
	}
	if r.JID != "a@example.com/x" || r.SM.Enabled == nil || r.SM.Enabled.ID != "sm-2" {
		t.Fatalf("restart: %+v %+v", r, r.SM)
	}
}

// TestRestartOnServer: the pipelined bind, carbons and SM enable against the
// real servers, which must answer them in order after the restarted stream.
func TestRestartOnServer(t *testing.T) {
	testenv.ForEachServer(t, func(t *testing.T, srv testenv.Server) {
		d, _ := newDialer(t, serverConfig(t, srv, TLSStartTLS))
		s, err := login(t, d, Credentials{Username: newUser("restart")})
		if err != nil {
			t.Fatal(err)
		}
		r, err := Restart(restartCtx(t), s, RestartRequest{Domain: d.cfg.Domain, Resource: "phone.1", Carbons: true, EnableSM: &SMEnable{Resume: true}})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Session.Conn.Close()
		if !strings.HasSuffix(r.JID, "/phone.1") || r.SM.Enabled == nil || r.SM.Enabled.ID == "" {
			t.Fatalf("restart: jid %q, sm %+v", r.JID, r.SM)
		}
	})
}
