package oauthx

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// tamper flips one character of the signature (or of an opaque token).
func tamper(tok string) string {
	i := len(tok) - 5
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

func wantClass(t *testing.T, what string, err, class error) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Errorf("%s: error %v, want %v", what, err, class)
	}
}

func TestValidationModes(t *testing.T) {
	for _, mode := range []string{ValidationUserinfo, ValidationIntrospection, ValidationJWT, ValidationAuto} {
		t.Run(mode, func(t *testing.T) {
			f := newFakeIdP(t)
			c, _ := start(t, f.config(mode))
			ctx := context.Background()
			tok := f.issue("alice")
			id, err := c.ValidateToken(ctx, tok)
			if err != nil || id.Username != "alice" || id.AccessToken != tok {
				t.Fatalf("valid token: %+v, %v", id, err)
			}
			_, err = c.ValidateToken(ctx, tamper(tok))
			wantClass(t, "tampered", err, ErrInvalidToken)

			f.tokenTTL = -time.Hour
			_, err = c.ValidateToken(ctx, f.issue("alice"))
			wantClass(t, "expired", err, ErrInvalidToken)

			_, err = c.ValidateToken(ctx, "not-a-token-at-all")
			wantClass(t, "garbage", err, ErrInvalidToken)
		})
	}
}

func TestJWTRejects(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config(ValidationJWT)
	cfg.Audience = "xmpp"
	c, _ := start(t, cfg)
	ctx := context.Background()
	other := newRSAKey(t)
	good := map[string]any{"preferred_username": "alice", "aud": []string{"xmpp", "other"}}
	if _, err := c.ValidateToken(ctx, signJWT(t, f.key, f.kid, "at+jwt", f.issuer, time.Hour, good)); err != nil {
		t.Fatalf("good token rejected: %v", err)
	}
	if _, err := c.ValidateToken(ctx, signJWT(t, f.key, f.kid, "JWT", f.issuer, time.Hour,
		map[string]any{"preferred_username": "alice", "aud": "openid xmpp"})); err != nil {
		t.Errorf("aud as a space-separated string rejected: %v", err)
	}
	for name, tok := range map[string]string{
		"other key, same kid": signJWT(t, other, f.kid, "at+jwt", f.issuer, time.Hour, good),
		"other key, new kid":  signJWT(t, other, "k-unknown", "at+jwt", f.issuer, time.Hour, good),
		"wrong issuer":        signJWT(t, f.key, f.kid, "at+jwt", "https://evil.example", time.Hour, good),
		"expired":             signJWT(t, f.key, f.kid, "at+jwt", f.issuer, -time.Minute, good),
		"wrong typ":           signJWT(t, f.key, f.kid, "logout+jwt", f.issuer, time.Hour, good),
		"wrong audience":      signJWT(t, f.key, f.kid, "at+jwt", f.issuer, time.Hour, map[string]any{"preferred_username": "alice", "aud": "xmppx"}),
		"alg none":            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJwcmVmZXJyZWRfdXNlcm5hbWUiOiJhbGljZSJ9.",
	} {
		_, err := c.ValidateToken(ctx, tok)
		wantClass(t, name, err, ErrInvalidToken)
	}
	// jwt mode needs no request per token once the keys are in.
	if n := f.hit("/userinfo") + f.hit("/introspect"); n != 0 {
		t.Errorf("jwt mode made %d remote validation requests", n)
	}
}

func TestJWTNotYetValid(t *testing.T) {
	f := newFakeIdP(t)
	c, _ := start(t, f.config(ValidationJWT))
	tok := signJWT(t, f.key, f.kid, "at+jwt", f.issuer, time.Hour, map[string]any{"preferred_username": "alice", "nbf": time.Now().Add(time.Hour).Unix()})
	_, err := c.ValidateToken(context.Background(), tok)
	wantClass(t, "nbf in an hour", err, ErrInvalidToken)
}

// Key rotation: a token with a new kid makes the client fetch the keys again,
// but a stream of unknown kids does not hammer the JWKS endpoint.
func TestJWTKeyRotation(t *testing.T) {
	f := newFakeIdP(t)
	c, _ := start(t, f.config(ValidationJWT))
	before := f.hit("/jwks")
	f.mu.Lock()
	f.key, f.kid = newRSAKey(t), "k2"
	f.mu.Unlock()
	if id, err := c.ValidateToken(context.Background(), f.issue("bob")); err != nil || id.Username != "bob" {
		t.Fatalf("token signed by a rotated key: %+v, %v", id, err)
	}
	if f.hit("/jwks") != before+1 {
		t.Fatalf("jwks fetched %d times for a new kid, want 1", f.hit("/jwks")-before)
	}
	other := newRSAKey(t)
	for i := range 5 {
		tok := signJWT(t, other, "forged-"+strings.Repeat("x", i), "at+jwt", f.issuer, time.Hour, map[string]any{"preferred_username": "bob"})
		_, err := c.ValidateToken(context.Background(), tok)
		wantClass(t, "unknown kid", err, ErrInvalidToken)
	}
	if f.hit("/jwks") != before+1 {
		t.Errorf("unknown kids caused %d more jwks fetches within the rate limit", f.hit("/jwks")-before-1)
	}
}

func TestIntrospectionRevoked(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config(ValidationIntrospection)
	cfg.CacheSize = -1
	c, _ := start(t, cfg)
	tok := f.issue("alice")
	if _, err := c.ValidateToken(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.revoked[tok] = true
	f.mu.Unlock()
	_, err := c.ValidateToken(context.Background(), tok)
	wantClass(t, "revoked", err, ErrInvalidToken)
}

func TestIntrospectionWrongClientSecret(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config(ValidationIntrospection)
	cfg.ClientSecret = "wrong"
	c, _ := start(t, cfg)
	_, err := c.ValidateToken(context.Background(), f.issue("alice"))
	wantClass(t, "introspection with a wrong client secret", err, ErrMisconfigured)
}

// auto: an opaque token goes to introspection; a JWT without the username
// claim is verified and then passed on; a JWT with it stays local.
func TestAutoRouting(t *testing.T) {
	f := newFakeIdP(t)
	c, _ := start(t, f.config(ValidationAuto))
	ctx := context.Background()
	if id, err := c.ValidateToken(ctx, f.issue("alice")); err != nil || id.Username != "alice" {
		t.Fatalf("JWT: %+v, %v", id, err)
	}
	if f.hit("/introspect")+f.hit("/userinfo") != 0 {
		t.Fatal("a JWT with the username claim was validated remotely")
	}
	f.opaque = true
	if id, err := c.ValidateToken(ctx, f.issue("bob")); err != nil || id.Username != "bob" || f.hit("/introspect") != 1 {
		t.Fatalf("opaque: %+v, %v, introspections %d", id, err, f.hit("/introspect"))
	}
	f.opaque = false
	f.userField = "login" // JWTs now lack preferred_username; introspection says "username"
	if id, err := c.ValidateToken(ctx, f.issue("alice")); err != nil || id.Username != "alice" || f.hit("/introspect") != 2 {
		t.Fatalf("JWT without the claim: %+v, %v, introspections %d", id, err, f.hit("/introspect"))
	}
}
