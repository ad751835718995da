package testenv

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// MFAScope is a scope whose sign-ins need a password and a TOTP code.
// Glewlwyd ties second factors to scopes, not users: a relying party that
// asks for this scope makes its users pass the second factor.
const MFAScope = "xmpp-mfa"

// totpStep is Glewlwyd's default TOTP time step, in seconds.
const totpStep = 30

var totpEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// AddTOTPUser creates user with scopes openid, xmpp and MFAScope and a
// registered TOTP second factor, and returns its base32 secret. Glewlwyd
// accepts one code per user per time step: sign such a user in at most
// once every 30 seconds.
func (g *Glewlwyd) AddTOTPUser(ctx context.Context, user, password string) (string, error) {
	if err := g.adminLogin(ctx); err != nil {
		return "", err
	}
	if err := g.ensureMFAScope(ctx); err != nil {
		return "", err
	}
	body := userBody(user, password)
	body["scope"] = []string{"openid", "xmpp", MFAScope}
	if err := g.adminDo(ctx, http.MethodPost, "/user/", body); err != nil {
		return "", err
	}
	raw := make([]byte, 20)
	rand.Read(raw)
	secret := totpEncoding.EncodeToString(raw)
	path := "/delegate/" + url.PathEscape(user) + "/profile/scheme/register/"
	if err := g.adminDo(ctx, http.MethodPost, path, map[string]any{
		"username": user, "scheme_type": "otp", "scheme_name": "otp",
		"value": map[string]any{"type": "TOTP", "secret": secret, "time_step_size": totpStep},
	}); err != nil {
		return "", fmt.Errorf("register TOTP for %s: %w", user, err)
	}
	return secret, nil
}

// ensureMFAScope creates, once, the TOTP scheme and MFAScope, and lets the
// client ask for it.
func (g *Glewlwyd) ensureMFAScope(ctx context.Context) error {
	g.clientMu.Lock()
	done := g.mfaReady
	g.clientMu.Unlock()
	if done {
		return nil
	}
	steps := []struct {
		path string
		body any
	}{
		{"/mod/scheme/", map[string]any{
			"module": "otp", "name": "otp", "display_name": "TOTP", "expiration": 600, "max_use": 0,
			"allow_user_register": true, "enabled": true,
			"parameters": map[string]any{"otp-length": 6, "issuer": "testenv", "secret-minimum-size": 20,
				"hotp-allow": false, "totp-allow": true, "totp-window": totpStep, "totp-start-offset": 0},
		}},
		{"/scope/", map[string]any{
			"name": MFAScope, "display_name": "XMPP (two factors)", "description": "Log in to XMPP with a second factor",
			"password_required": true, "password_max_age": 0,
			"scheme":          map[string]any{"otp": []map[string]string{{"scheme_type": "otp", "scheme_name": "otp"}}},
			"scheme_required": map[string]int{"otp": 1},
		}},
	}
	for _, s := range steps {
		if err := g.adminDo(ctx, http.MethodPost, s.path, s.body); err != nil {
			return err
		}
	}
	g.clientMu.Lock()
	g.mfaReady = true
	g.clientMu.Unlock()
	return g.adminDo(ctx, http.MethodPut, "/client/"+url.PathEscape(g.ClientID), g.clientBody())
}

// totp is RFC 6238 as Glewlwyd's OTP scheme computes it: HMAC-SHA1 over
// the 30-second step, 6 digits.
func totp(secret string, at time.Time) string {
	key, err := totpEncoding.DecodeString(secret)
	if err != nil {
		return ""
	}
	var step [8]byte
	binary.BigEndian.PutUint64(step[:], uint64(at.Unix()/totpStep))
	m := hmac.New(sha1.New, key)
	m.Write(step[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	code := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", code%1000000)
}
