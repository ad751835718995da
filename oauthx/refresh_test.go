package oauthx

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestGlewlwydRefresh: a live grant refreshes; a revoked refresh token and a
// deleted user are ErrGrantRevoked; a wrong client secret, which Glewlwyd
// answers with the same bare 400, is ErrMisconfigured and never taken for a
// revocation (that would disable every app password at once).
func TestGlewlwydRefresh(t *testing.T) {
	g, cfg := glewlwydConfig(t, ValidationAuto)
	c, _ := start(t, cfg)
	ctx := t.Context()

	user := fmt.Sprintf("rita%d", time.Now().UnixNano()%1e9)
	if err := g.AddUser(ctx, user, "rita-password"); err != nil {
		t.Fatal(err)
	}
	grant := func() string {
		tok, err := g.PasswordGrant(ctx, user, "rita-password")
		if err != nil || tok.Refresh == "" {
			t.Fatalf("password grant: %v (refresh token present: %v)", err, tok.Refresh != "")
		}
		return tok.Refresh
	}

	rt := grant()
	r, err := c.Refresh(ctx, rt)
	if err != nil || r.RefreshToken == "" {
		t.Fatalf("live grant: %+v, %v", r, err)
	}

	bad := cfg
	bad.ClientSecret = "not-the-secret"
	cb, _ := start(t, bad)
	_, err = cb.Refresh(ctx, rt)
	wantClass(t, "wrong client secret", err, ErrMisconfigured)
	if errors.Is(err, ErrGrantRevoked) {
		t.Fatal("a wrong client secret was taken for a revoked grant")
	}

	if err := g.RevokeRefresh(ctx, r.RefreshToken); err != nil {
		t.Fatal(err)
	}
	_, err = c.Refresh(ctx, r.RefreshToken)
	wantClass(t, "revoked refresh token", err, ErrGrantRevoked)

	rt = grant()
	if err := g.DeleteUser(ctx, user); err != nil {
		t.Fatal(err)
	}
	_, err = c.Refresh(ctx, rt)
	wantClass(t, "deleted user", err, ErrGrantRevoked)

	_, err = c.Refresh(ctx, "")
	wantClass(t, "no refresh token", err, ErrGrantRevoked)
}
