package proxy

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// oneSCRAMKey is juliet's one app password "app-secret" as SCRAM keys.
type oneSCRAMKey struct{ key saslauth.SCRAMKey }

var scramSalt = []byte("salt-of-juliet..")

func newOneSCRAMKey(t *testing.T) *oneSCRAMKey {
	c, err := scram.SHA256.NewClient("juliet", "app-secret", "")
	if err != nil {
		t.Fatal(err)
	}
	sc := c.GetStoredCredentials(scram.KeyFactors{Salt: string(scramSalt), Iters: 4096})
	return &oneSCRAMKey{saslauth.SCRAMKey{CredentialID: "c1", StoredKey: sc.StoredKey, ServerKey: sc.ServerKey}}
}

func (o *oneSCRAMKey) SCRAMKeys(context.Context, string) (saslauth.SCRAMKeys, error) {
	return saslauth.SCRAMKeys{Salt: scramSalt, Iterations: 4096, Keys: []saslauth.SCRAMKey{o.key}}, nil
}

func (o *oneSCRAMKey) SCRAMLogin(_ context.Context, user string, match func() string) (saslauth.Identity, error) {
	if id := match(); id != "" {
		return saslauth.Identity{Username: user, CredentialID: id, GrantID: "g1"}, nil
	}
	return saslauth.Identity{}, saslauth.ErrInvalidCredentials
}

// scramLogin runs a legacy SCRAM-SHA-256 exchange with password on a fresh
// STARTTLS connection and returns the SASL answer to the client's proof.
func (e *env) scramLogin(t *testing.T, password string) string {
	t.Helper()
	c := e.dial(e.addr)
	c.startTLS(e.pool)
	cl, err := scram.SHA256.NewClient("juliet", password, "")
	if err != nil {
		t.Fatal(err)
	}
	conv := cl.NewConversation()
	first, _ := conv.Step("")
	c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>" + base64.StdEncoding.EncodeToString([]byte(first)) + "</auth>")
	got := c.expect("</challenge>")
	b64 := got[strings.Index(got, ">")+1 : strings.LastIndex(got, "<")]
	challenge, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("challenge %q: %v", got, err)
	}
	final, err := conv.Step(string(challenge))
	if err != nil {
		t.Fatal(err)
	}
	c.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64.StdEncoding.EncodeToString([]byte(final)) + "</response>")
	got = c.expect(">") // <success> carries the server signature, <failure> a condition
	if strings.HasPrefix(got, "<failure") {
		got += c.expect("</failure>")
	}
	return got
}

// TestSCRAMFailuresAreThrottled: a wrong SCRAM proof counts as a failed login
// for the address and the user, as a wrong PLAIN password does: past the free
// failures the next attempt is turned away (temporary-auth-failure) without
// its proof being checked, even with the right password.
func TestSCRAMFailuresAreThrottled(t *testing.T) {
	e := newEnv(t, nil, func(c *Config) {
		c.Domains[0].SASL.SCRAM = newOneSCRAMKey(t)
		c.Limits.FreeFailures, c.Limits.FailureDelay = 1, time.Hour
	})
	if got := e.scramLogin(t, "app-secret"); !strings.Contains(got, "<success") {
		t.Fatalf("the right password: %s", got)
	}
	for i := range 2 {
		if got := e.scramLogin(t, "guess"); !strings.Contains(got, "<not-authorized") {
			t.Fatalf("wrong password %d: %s", i, got)
		}
	}
	if got := e.scramLogin(t, "app-secret"); !strings.Contains(got, "<temporary-auth-failure") {
		t.Fatalf("after the free failures: %s, want temporary-auth-failure", got)
	}
}
