package oauthx

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// Failing logins and validations are logged; the password, the token and the
// client secret must appear neither in the log nor in the errors.
func TestNoSecretsInLogsOrErrors(t *testing.T) {
	const password = "Pa55-very-secret-password"
	f := newFakeIdP(t)
	f.users["alice"] = password
	// The IdP misbehaves by echoing what it got: even then nothing leaks.
	echo := func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		_, _ = w.Write([]byte(`{"error":"invalid_request","error_description":"` + r.Form.Encode() + `"}`))
	}
	cfg := f.config(ValidationAuto)
	c, logs := start(t, cfg)
	ctx := context.Background()
	token := f.issue("alice")
	secrets := []string{password, "wrong-" + password, token, tamper(token), f.secret}

	var errs []error
	for _, step := range []func() error{
		func() error { _, err := c.PasswordLogin(ctx, "alice", "wrong-"+password); return err },
		func() error { _, err := c.ValidateToken(ctx, tamper(token)); return err },
		func() error { f.set("/token", echo); _, err := c.PasswordLogin(ctx, "alice", password); return err },
		func() error {
			f.set("/introspect", echo)
			f.opaque = true
			_, err := c.ValidateToken(ctx, "opaque-"+password)
			return err
		},
	} {
		err := step()
		if err == nil {
			t.Fatal("a failing step succeeded")
		}
		errs = append(errs, err)
	}
	secrets = append(secrets, "opaque-"+password)
	out := logs.String()
	if !strings.Contains(out, "password login rejected") || !strings.Contains(out, "token rejected") {
		t.Fatalf("failures were not logged:\n%s", out)
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("log contains a secret %.12q...:\n%s", s, out)
		}
		for _, err := range errs {
			if strings.Contains(err.Error(), s) {
				t.Errorf("error %q contains a secret", err)
			}
		}
	}
}
