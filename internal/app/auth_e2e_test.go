package app_test

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"
)

// failure asserts a SASL <failure/> with the given condition.
func wantFailure(t *testing.T, el element, condition string) {
	t.Helper()
	if el.XMLName.Local != "failure" || el.child() != condition {
		t.Fatalf("want <failure><%s/>, got <%s>%s", condition, el.XMLName.Local, el.Inner)
	}
}

func TestPlainLoginThroughProxy(t *testing.T) { onEachServer(t, "", testPlainLoginThroughProxy) }

func testPlainLoginThroughProxy(t *testing.T, s *stack) {
	for _, direct := range []bool{false, true} {
		c, features := s.dialRaw(t, direct)
		if !strings.Contains(features.Inner, ">PLAIN<") || !strings.Contains(features.Inner, ">OAUTHBEARER<") {
			t.Fatalf("mechanisms after TLS: %s", features.Inner)
		}
		el := c.auth("PLAIN", plainPayload("", "alice", s.env.IdP.Users["alice"]))
		if el.XMLName.Local != "success" {
			t.Fatalf("direct=%v: want success, got <%s>%s", direct, el.XMLName.Local, el.Inner)
		}
		// The restarted stream is the upstream's: it offers bind.
		f := c.open(s.domain())
		if !strings.Contains(f.Inner, "urn:ietf:params:xml:ns:xmpp-bind") {
			t.Fatalf("no bind after restart: %s", f.Inner)
		}
		if jid := c.bind("raw"); !strings.HasPrefix(jid, "alice@localhost/") {
			t.Fatalf("bound %q", jid)
		}
	}
}

func TestAuthFailures(t *testing.T) { onEachServer(t, "", testAuthFailures) }

func testAuthFailures(t *testing.T, s *stack) {
	bobToken := idpToken(t, s.env, "bob")

	t.Run("wrong password", func(t *testing.T) {
		c, _ := s.dialRaw(t, false)
		wantFailure(t, c.auth("PLAIN", plainPayload("", "alice", "not-her-password")), "not-authorized")
	})
	t.Run("authzid of another user", func(t *testing.T) {
		c, _ := s.dialRaw(t, true)
		wantFailure(t, c.auth("OAUTHBEARER", bearerPayload(s.jid("alice"), bobToken)), "invalid-authzid")
	})
	t.Run("own authzid", func(t *testing.T) {
		c, _ := s.dialRaw(t, true)
		if el := c.auth("OAUTHBEARER", bearerPayload(s.jid("bob"), bobToken)); el.XMLName.Local != "success" {
			t.Fatalf("want success, got <%s>%s", el.XMLName.Local, el.Inner)
		}
	})
	t.Run("garbage token", func(t *testing.T) {
		c, _ := s.dialRaw(t, false)
		challenge := decodeChallenge(t, c.auth("OAUTHBEARER", bearerPayload("", "garbage.garbage.garbage")))
		var body map[string]string
		if err := json.Unmarshal([]byte(challenge), &body); err != nil || body["status"] != "invalid_token" {
			t.Fatalf("challenge %q", challenge)
		}
		wantFailure(t, c.respond([]byte{1}), "not-authorized")
	})
	t.Run("ID token as bearer", func(t *testing.T) {
		// Signed by the same key and naming bob, but an ID token: any relying
		// party that received it must not log in with it.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		idt, err := s.env.IdP.PasswordIDToken(ctx, "bob", s.env.IdP.Users["bob"])
		if err != nil {
			t.Fatal(err)
		}
		c, _ := s.dialRaw(t, false)
		decodeChallenge(t, c.auth("OAUTHBEARER", bearerPayload("", idt)))
		wantFailure(t, c.respond([]byte{1}), "not-authorized")
	})
	t.Run("tampered token", func(t *testing.T) {
		c, _ := s.dialRaw(t, false)
		tampered := bobToken[:len(bobToken)-4] + "AAAA"
		decodeChallenge(t, c.auth("OAUTHBEARER", bearerPayload("", tampered)))
		wantFailure(t, c.respond([]byte{1}), "not-authorized")
	})
	t.Run("empty token probe", func(t *testing.T) {
		c, _ := s.dialRaw(t, true)
		challenge := decodeChallenge(t, c.auth("OAUTHBEARER", bearerPayload("", "")))
		var body map[string]string
		if err := json.Unmarshal([]byte(challenge), &body); err != nil {
			t.Fatalf("challenge %q: %v", challenge, err)
		}
		if body["openid-configuration"] != s.env.IdP.DiscoveryURL {
			t.Errorf("openid-configuration = %q, want %q", body["openid-configuration"], s.env.IdP.DiscoveryURL)
		}
		if body["scope"] == "" {
			t.Errorf("no scope in %q", challenge)
		}
		wantFailure(t, c.respond([]byte{1}), "not-authorized")
	})
	t.Run("no SASL before TLS", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", s.starttls, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c := newRaw(t, conn)
		f := c.open(s.domain())
		if strings.Contains(f.Inner, "mechanism") || !strings.Contains(f.Inner, "<required") {
			t.Fatalf("features before TLS: %s", f.Inner)
		}
		c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + "AGFsaWNlAHg=" + "</auth>")
		if el := c.next(); el.XMLName.Local != "error" || el.child() != "policy-violation" {
			t.Fatalf("PLAIN before TLS: got <%s>%s, want the stream error policy-violation", el.XMLName.Local, el.Inner)
		}
	})
	t.Run("unknown domain", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", s.starttls, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c := newRaw(t, conn)
		el := c.open("elsewhere.example")
		if el.XMLName.Local != "error" || el.child() != "host-unknown" {
			t.Fatalf("want host-unknown, got <%s>%s", el.XMLName.Local, el.Inner)
		}
	})
}

func TestExpiredTokenRejected(t *testing.T) {
	env := testenvRequire(t)
	// A proxy that trusts the short-lived plugin, whose tokens live 3 s. Local JWT
	// checks allow 30 s of clock skew; introspection asks the IdP, which is exact.
	yaml := strings.Replace(env.ProxyConfig(listenAny, ""), env.IdP.DiscoveryURL, env.IdP.ShortDiscoveryURL, 1)
	yaml = strings.Replace(yaml, "\noauth:\n", "\noauth:\n  validation: introspection\n", 1)
	s := startStackFor(t, env, yaml)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	token, err := env.IdP.ShortPasswordToken(ctx, "bob", env.IdP.Users["bob"])
	if err != nil {
		t.Fatal(err)
	}
	c, _ := s.dialRaw(t, true)
	if el := c.auth("OAUTHBEARER", bearerPayload("", token)); el.XMLName.Local != "success" {
		t.Fatalf("fresh short token: got <%s>%s", el.XMLName.Local, el.Inner)
	}
	// Wait until the token has expired, by the IdP's own account.
	for {
		info, err := env.IdP.ShortIntrospect(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		if active, _ := info["active"].(bool); !active {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("token never expired")
		case <-time.After(200 * time.Millisecond):
		}
	}
	c, _ = s.dialRaw(t, true)
	decodeChallenge(t, c.auth("OAUTHBEARER", bearerPayload("", token)))
	wantFailure(t, c.respond([]byte{1}), "not-authorized")
}

func TestUnavailableServicesGiveTemporaryFailure(t *testing.T) {
	env := testenvRequire(t)
	closed := closedPort(t)

	t.Run("IdP down", func(t *testing.T) {
		yaml := strings.Replace(env.ProxyConfig(listenAny, ""), env.IdP.DiscoveryURL, "http://127.0.0.1:1/.well-known/openid-configuration", 1)
		s := startStackFor(t, env, yaml)
		c, _ := s.dialRaw(t, false)
		wantFailure(t, c.auth("PLAIN", plainPayload("", "alice", env.IdP.Users["alice"])), "temporary-auth-failure")
	})
	t.Run("upstream down", func(t *testing.T) {
		yaml := strings.Replace(env.ProxyConfig(listenAny, ""), "address: \""+env.Prosody.C2SAddr+"\"", "address: \""+closed+"\"", 1)
		s := startStackFor(t, env, yaml)
		c, _ := s.dialRaw(t, false)
		wantFailure(t, c.auth("PLAIN", plainPayload("", "alice", env.IdP.Users["alice"])), "temporary-auth-failure")
		// The IdP is fine, so only the upstream can make /readyz fail, and it says which.
		if code, body := s.get(t, "/readyz"); code != 503 || !strings.Contains(body, "upstream of "+env.Prosody.Domain) {
			t.Fatalf("/readyz with the upstream down = %d %q, want 503 naming the upstream", code, body)
		}
	})
}

// closedPort is a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Which mechanisms a domain offers follows its upstream credentials: passthrough
// needs the password (PLAIN only); token works with both, since PLAIN's password
// grant yields a token too.
func TestMechanismsFollowUpstreamCredentials(t *testing.T) {
	env := testenvRequire(t)
	for creds, want := range map[string][]string{
		"managed":     {"OAUTHBEARER", "PLAIN"},
		"token":       {"OAUTHBEARER", "PLAIN"},
		"passthrough": {"PLAIN"},
	} {
		t.Run(creds, func(t *testing.T) {
			yaml := strings.Replace(env.ProxyConfig(listenAny, ""), "credentials: managed", "credentials: "+creds, 1)
			s := startStackFor(t, env, yaml)
			_, features := s.dialRaw(t, true)
			var got []string
			for _, m := range []string{"OAUTHBEARER", "PLAIN"} {
				if strings.Contains(features.Inner, ">"+m+"<") {
					got = append(got, m)
				}
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("offered %v, want %v", got, want)
			}
		})
	}
}

// username_mapping split drops the realm, so by default a domain accepts only
// its own realm: dave@other.example must not become dave@localhost, although
// other.example is a domain of the proxy too; elsewhere.example is none.
func TestUsernameRealmThroughProxy(t *testing.T) {
	env := testenvRequire(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	own, otherDomain, foreign := "erin@"+env.Prosody.Domain, "dave@other.example", "mallory@elsewhere.example"
	tokens := map[string]string{}
	for _, user := range []string{own, otherDomain, foreign} {
		if err := env.IdP.AddUser(ctx, user, "pw-"+user); err != nil {
			t.Fatal(err)
		}
		tok, err := env.IdP.PasswordToken(ctx, user, "pw-"+user)
		if err != nil {
			t.Fatal(err)
		}
		tokens[user] = tok
	}
	yaml := strings.Replace(env.ProxyConfig(listenAny, ""), "\noauth:\n", "\noauth:\n  username_mapping: split\n", 1)
	// A second domain, never logged in to here.
	yaml = strings.Replace(yaml, "domains:\n", "domains:\n  - name: other.example\n    upstream: {address: \""+env.Prosody.C2SAddr+"\", credentials: passthrough}\n", 1)
	s := startStackFor(t, env, yaml)

	c, _ := s.dialRaw(t, true)
	if el := c.auth("OAUTHBEARER", bearerPayload("", tokens[own])); el.XMLName.Local != "success" {
		t.Fatalf("%s: got <%s>%s", own, el.XMLName.Local, el.Inner)
	}
	c.open(env.Prosody.Domain)
	if jid := c.bind("raw"); !strings.HasPrefix(jid, "erin@"+env.Prosody.Domain+"/") {
		t.Fatalf("bound %q", jid)
	}
	for _, user := range []string{otherDomain, foreign} {
		c, _ = s.dialRaw(t, true)
		decodeChallenge(t, c.auth("OAUTHBEARER", bearerPayload("", tokens[user])))
		wantFailure(t, c.respond([]byte{1}), "not-authorized")
		_, realm, _ := strings.Cut(user, "@")
		if !strings.Contains(s.logs.String(), `realm \"`+realm+`\"`) {
			t.Errorf("no log line says why %s was refused", user)
		}
	}
}
