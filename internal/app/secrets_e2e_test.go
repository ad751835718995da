package app_test

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestSecretsNeverLogged drives failing and succeeding logins of every kind at
// debug level and checks that no password, token or configured secret appears in
// the proxy's log output, raw or base64-encoded.
func TestSecretsNeverLogged(t *testing.T) {
	s := startStack(t, "")
	bobToken := idpToken(t, s.env, "bob")
	const wrongPassword = "Wrong-Pa55word-Sentinel"
	const badToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZW50aW5lbCJ9.c2VudGluZWwtc2lnbmF0dXJl"

	c, _ := s.dialRaw(t, false)
	wantFailure(t, c.auth("PLAIN", plainPayload("", "alice", wrongPassword)), "not-authorized")
	c, _ = s.dialRaw(t, false)
	wantFailure(t, c.auth("PLAIN", plainPayload("", "nosuchuser", wrongPassword)), "not-authorized")
	c, _ = s.dialRaw(t, true)
	decodeChallenge(t, c.auth("OAUTHBEARER", bearerPayload("", badToken)))
	wantFailure(t, c.respond([]byte{1}), "not-authorized")
	c, _ = s.dialRaw(t, true)
	wantFailure(t, c.auth("OAUTHBEARER", bearerPayload(s.jid("alice"), bobToken)), "invalid-authzid")
	s.loginPlain(t, "alice", s.env.IdP.Users["alice"])
	c, _ = s.dialRaw(t, true)
	if el := c.auth("OAUTHBEARER", bearerPayload("", bobToken)); el.XMLName.Local != "success" {
		t.Fatalf("bob's token: <%s>", el.XMLName.Local)
	}

	logs := s.logs.String()
	if !strings.Contains(logs, "authentication failed") || !strings.Contains(logs, "logged in") {
		t.Fatalf("the logins left no log lines; the test would prove nothing:\n%s", logs)
	}
	secrets := map[string]string{
		"wrong password":       wrongPassword,
		"alice's password":     s.env.IdP.Users["alice"],
		"bob's token":          bobToken,
		"bob's token (sig)":    bobToken[strings.LastIndex(bobToken, ".")+1:],
		"garbage token":        badToken,
		"oauth client secret":  s.env.IdP.ClientSecret,
		"upstream secret key":  s.env.SecretKey,
		"upstream admin pass":  s.env.Prosody.AdminPassword,
		"PLAIN payload base64": base64.StdEncoding.EncodeToString(plainPayload("", "alice", wrongPassword)),
	}
	for name, secret := range secrets {
		if strings.Contains(logs, secret) {
			t.Errorf("%s appears in the log", name)
		}
	}
}
