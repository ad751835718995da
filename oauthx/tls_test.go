package oauthx

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A private IdP behind a certificate of its own: refused by default, accepted
// with its CA in ca_file, and accepted with insecure_skip_verify only with a
// warning in the log.
func TestTLSVerification(t *testing.T) {
	f := newFakeIdPServer(t, httptest.NewTLSServer)
	base := Config{TokenEndpoint: f.srv.URL + "/realm/token", ClientID: testClientID, ClientSecret: f.secret,
		ResourceOwnerPassword: true}

	c, _ := start(t, base)
	_, err := c.PasswordLogin(context.Background(), "alice", "alice-pw")
	wantClass(t, "unknown CA", err, ErrUnavailable)
	if !errors.As(err, new(x509.UnknownAuthorityError)) {
		t.Errorf("unknown CA: %v, want an x509 unknown-authority error", err)
	}

	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	withCA := base
	withCA.CAFile = ca
	c, logs := start(t, withCA)
	if id, err := c.PasswordLogin(context.Background(), "alice", "alice-pw"); err != nil || id.Username != "alice" {
		t.Errorf("with ca_file: %+v, %v", id, err)
	}
	if strings.Contains(logs.String(), "insecure") {
		t.Error("warned about insecure_skip_verify although it is off")
	}

	insecure := base
	insecure.InsecureSkipVerify = true
	c, logs = start(t, insecure)
	if id, err := c.PasswordLogin(context.Background(), "alice", "alice-pw"); err != nil || id.Username != "alice" {
		t.Errorf("with insecure_skip_verify: %+v, %v", id, err)
	}
	if !strings.Contains(logs.String(), `"level":"warn"`) || !strings.Contains(logs.String(), "insecure_skip_verify") {
		t.Errorf("no warning about insecure_skip_verify in %s", logs.String())
	}
}

func TestTokenSyntax(t *testing.T) {
	f := newFakeIdP(t)
	c, _ := start(t, f.config(ValidationUserinfo))
	for _, tok := range []string{"", "a b", "tok\r\nX-Evil: 1", "tök", strings.Repeat("a", maxTokenLen+1)} {
		_, err := c.ValidateToken(context.Background(), tok)
		wantClass(t, "token "+tok[:min(len(tok), 12)], err, ErrInvalidToken)
	}
	if f.hit("/userinfo") != 0 {
		t.Error("a malformed token was sent to the IdP")
	}
}
