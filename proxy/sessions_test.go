package proxy

import (
	"context"
	"io"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// credAuth accepts app passwords "app-1" and "app-2", each its own credential
// on its own grant.
type credAuth struct{}

func (credAuth) CheckPassword(_ context.Context, user, pass string) (saslauth.Identity, error) {
	switch pass {
	case "app-1":
		return saslauth.Identity{Username: user, CredentialID: "c1", GrantID: "g1"}, nil
	case "app-2":
		return saslauth.Identity{Username: user, CredentialID: "c2", GrantID: "g2"}, nil
	}
	return saslauth.Identity{}, saslauth.ErrInvalidCredentials
}

func (credAuth) CheckToken(context.Context, string) (saslauth.Identity, error) {
	return saslauth.Identity{}, saslauth.ErrInvalidCredentials
}

// TestEndSessionsByCredential: revoking a credential ends exactly the sessions
// that logged in with it: the client reads a not-authorized stream error with
// the reason, the upstream a clean end of stream; other sessions go on.
func TestEndSessionsByCredential(t *testing.T) {
	upEnds := make(chan string, 2)
	e := newEnv(t, func(c net.Conn) {
		br, _, err := answerRestart(c)
		if err != nil {
			return
		}
		rest, _ := io.ReadAll(br)
		upEnds <- string(rest)
	}, func(cfg *Config) { cfg.Domains[0].SASL.Authenticator = credAuth{} })

	login := func(pass string) *client {
		c := e.dial(e.addr)
		c.startTLS(e.pool)
		c.send(plainAuth("juliet", pass))
		c.expect("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
		c.send(restartHeader)
		c.expect(upstreamFeatures)
		return c
	}
	first, second := login("app-1"), login("app-2")
	if ids := e.srv.LiveCredentials(); !slices.Contains(ids, "c1") || !slices.Contains(ids, "c2") || len(ids) != 2 {
		t.Fatalf("live credentials = %q, want c1 and c2", ids)
	}

	if n := e.srv.EndSessions(SessionRef{CredentialID: "c1"}, "Your app password was revoked"); n != 1 {
		t.Fatalf("ended %d sessions, want 1", n)
	}
	got := first.rest()
	want := streamErrorXML(condNotAuthorized) + "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>Your app password was revoked</text></stream:error></stream:stream>"
	if !strings.HasSuffix(got, want) {
		t.Fatalf("client got %q, want suffix %q", got, want)
	}
	if up := <-upEnds; !strings.HasSuffix(up, streamClose) {
		t.Fatalf("upstream got %q, want a clean </stream:stream>", up)
	}

	// The other session is untouched and still indexed, by its grant.
	if n := e.srv.EndSessions(SessionRef{CredentialID: "c1"}, "again"); n != 0 {
		t.Fatalf("ended %d sessions of an already ended credential", n)
	}
	if n := e.srv.EndSessions(SessionRef{GrantID: "g2"}, "Your account was disabled"); n != 1 {
		t.Fatalf("ended %d sessions by grant, want 1", n)
	}
	if got := second.rest(); !strings.Contains(got, "Your account was disabled") {
		t.Fatalf("second client got %q", got)
	}
	if up := <-upEnds; !strings.HasSuffix(up, streamClose) {
		t.Fatalf("second upstream got %q, want a clean end", up)
	}
	waitFor(t, "the index to empty", func() bool {
		e.srv.live.mu.Lock()
		defer e.srv.live.mu.Unlock()
		return len(e.srv.live.byKey) == 0
	})
}

// TestRevokedWhileLoggingIn: a credential revoked after its check but before
// its session is registered (here: revoked first, as the race would order
// it) still ends that session at once; another credential's login is untouched.
func TestRevokedWhileLoggingIn(t *testing.T) {
	upEnds := make(chan string, 2)
	e := newEnv(t, func(c net.Conn) {
		all, _ := io.ReadAll(c) // what the relay sent the upstream
		upEnds <- string(all)
	}, func(cfg *Config) { cfg.Domains[0].SASL.Authenticator = credAuth{} })

	if n := e.srv.EndSessions(SessionRef{CredentialID: "c1"}, "This app password was revoked"); n != 0 {
		t.Fatalf("ended %d sessions before any login", n)
	}
	late := e.dial(e.addr)
	late.startTLS(e.pool)
	late.send(plainAuth("juliet", "app-1")) // the authenticator does not know of the revocation
	late.expect("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
	if got := late.rest(); !strings.Contains(got, "<not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>") ||
		!strings.Contains(got, "This app password was revoked") {
		t.Fatalf("the late session got %q, want the revocation's stream error", got)
	}
	if up := <-upEnds; !strings.HasSuffix(up, streamClose) {
		t.Fatalf("upstream got %q, want a clean end", up)
	}

	other := e.dial(e.addr)
	other.startTLS(e.pool)
	other.send(plainAuth("juliet", "app-2"))
	other.expect("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
	if ids := e.srv.LiveCredentials(); len(ids) != 1 || ids[0] != "c2" {
		t.Fatalf("live credentials = %q, want only c2", ids)
	}
}
