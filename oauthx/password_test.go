package oauthx

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestPasswordLoginJWTLocal(t *testing.T) {
	f := newFakeIdP(t)
	f.claims["preferred_username"] = "Alice.Smith" // the IdP's name differs from the typed one
	c, _ := start(t, f.config(ValidationAuto))
	id, err := c.PasswordLogin(context.Background(), "alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	if id.Username != "alice.smith" || id.AccessToken == "" || id.Expires.IsZero() || id.Subject != "sub-alice" {
		t.Errorf("identity %+v: want the token's normalised username, token, expiry, subject", id)
	}
	// One request per PLAIN login: the JWT was checked locally.
	if f.hit("/token") != 1 || f.hit("/userinfo")+f.hit("/introspect") != 0 {
		t.Errorf("requests: token %d userinfo %d introspect %d", f.hit("/token"), f.hit("/userinfo"), f.hit("/introspect"))
	}
}

func TestPasswordLoginUserinfo(t *testing.T) {
	f := newFakeIdP(t)
	f.opaque = true
	c, _ := start(t, f.config(ValidationUserinfo))
	id, err := c.PasswordLogin(context.Background(), "bob", "bob-pw")
	if err != nil || id.Username != "bob" {
		t.Fatalf("PasswordLogin = %+v, %v", id, err)
	}
	if f.hit("/userinfo") != 1 {
		t.Errorf("userinfo requests %d, want 1", f.hit("/userinfo"))
	}
}

// Without any validation method the typed username stands (the seed's rule).
func TestPasswordLoginNoValidation(t *testing.T) {
	f := newFakeIdP(t)
	c, _ := start(t, Config{TokenEndpoint: f.url("/token"), ClientID: testClientID, ClientSecret: f.secret, ResourceOwnerPassword: true})
	if c.CanValidate() {
		t.Fatal("CanValidate with no validation endpoint")
	}
	id, err := c.PasswordLogin(context.Background(), "alice", "alice-pw")
	if err != nil || id.Username != "alice" {
		t.Errorf("PasswordLogin = %+v, %v", id, err)
	}
	if _, err := c.ValidateToken(context.Background(), "tok"); !errors.Is(err, ErrMisconfigured) {
		t.Errorf("ValidateToken = %v, want ErrMisconfigured", err)
	}
}

func TestPasswordLoginClientSecretPost(t *testing.T) {
	f := newFakeIdP(t)
	f.postAuth = true
	f.meta["token_endpoint_auth_methods_supported"] = []string{"client_secret_post"}
	c, _ := start(t, f.config(ValidationAuto))
	if id, err := c.PasswordLogin(context.Background(), "alice", "alice-pw"); err != nil || id.Username != "alice" {
		t.Errorf("client_secret_post from metadata: %+v, %v", id, err)
	}
	// Configured basic wins over the metadata and the IdP refuses it.
	cfg := f.config(ValidationAuto)
	cfg.TokenEndpointAuthMethod = AuthBasic
	c2, _ := start(t, cfg)
	if _, err := c2.PasswordLogin(context.Background(), "alice", "alice-pw"); !errors.Is(err, ErrMisconfigured) {
		t.Errorf("basic against a post-only IdP = %v, want ErrMisconfigured", err)
	}
}

func TestPasswordLoginErrors(t *testing.T) {
	type answer struct {
		status int
		body   string
	}
	for name, tc := range map[string]struct {
		answer *answer
		pw     string
		secret string
		want   error
	}{
		"wrong password invalid_grant":  {pw: "nope", want: ErrInvalidCredentials},
		"wrong client secret":           {secret: "other", want: ErrMisconfigured},
		"bare 403 (Glewlwyd password)":  {answer: &answer{403, ""}, want: ErrInvalidCredentials},
		"bare 400 (Glewlwyd secret)":    {answer: &answer{400, ""}, want: ErrMisconfigured},
		"401 invalid_grant (Keycloak)":  {answer: &answer{401, `{"error":"invalid_grant"}`}, want: ErrInvalidCredentials},
		"400 unauthorized_client":       {answer: &answer{400, `{"error":"unauthorized_client"}`}, want: ErrMisconfigured},
		"500":                           {answer: &answer{500, "oops"}, want: ErrUnavailable},
		"200 not JSON":                  {answer: &answer{200, "<html>hello</html>"}, want: ErrUnavailable},
		"200 without access_token":      {answer: &answer{200, `{"token_type":"bearer"}`}, want: ErrUnavailable},
		"200 with token_type mac":       {answer: &answer{200, `{"access_token":"x","token_type":"mac"}`}, want: ErrMisconfigured},
		"200 with no token_type at all": {answer: &answer{200, `{"access_token":"x"}`}, want: ErrMisconfigured},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeIdP(t)
			if tc.answer != nil {
				f.set("/token", func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tc.answer.status)
					_, _ = w.Write([]byte(tc.answer.body))
				})
			}
			cfg := f.config(ValidationAuto)
			if tc.secret != "" {
				cfg.ClientSecret = tc.secret
			}
			c, _ := start(t, cfg)
			pw := "alice-pw"
			if tc.pw != "" {
				pw = tc.pw
			}
			_, err := c.PasswordLogin(context.Background(), "alice", pw)
			if !errors.Is(err, tc.want) {
				t.Fatalf("PasswordLogin = %v, want %v", err, tc.want)
			}
			for _, other := range []error{ErrInvalidCredentials, ErrInvalidToken, ErrUnavailable, ErrMisconfigured} {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("error %v is also %v", err, other)
				}
			}
		})
	}
}

// A token the IdP has just issued that fails our checks is our set-up's fault.
func TestPasswordLoginTokenFailsValidation(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config(ValidationJWT)
	cfg.Audience = "xmpp"
	c, _ := start(t, cfg)
	if _, err := c.PasswordLogin(context.Background(), "alice", "alice-pw"); !errors.Is(err, ErrMisconfigured) {
		t.Errorf("PasswordLogin = %v, want ErrMisconfigured (audience missing from the IdP's tokens)", err)
	}
	// A username that cannot be a localpart is the user's problem.
	f.claims["preferred_username"] = "alice smith"
	cfg.Audience = ""
	c2, _ := start(t, cfg)
	if _, err := c2.PasswordLogin(context.Background(), "alice", "alice-pw"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("PasswordLogin = %v, want ErrInvalidCredentials (unusable username)", err)
	}
}

func TestPasswordGrantDisabled(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config(ValidationAuto)
	cfg.ResourceOwnerPassword = false
	c, _ := start(t, cfg)
	if c.CanPassword() {
		t.Error("CanPassword with the password grant disabled")
	}
	if _, err := c.PasswordLogin(context.Background(), "alice", "alice-pw"); !errors.Is(err, ErrMisconfigured) || f.hit("/token") != 0 {
		t.Errorf("PasswordLogin = %v (token requests %d)", err, f.hit("/token"))
	}
}

// auto with opaque access tokens: the grant's ID token, checked locally, spares
// the second request; an ID token for another audience is not trusted.
func TestPasswordLoginIDToken(t *testing.T) {
	f := newFakeIdP(t)
	f.opaque = true
	f.idTokenAud = testClientID
	c, _ := start(t, f.config(ValidationAuto))
	id, err := c.PasswordLogin(context.Background(), "alice", "alice-pw")
	if err != nil || id.Username != "alice" || id.Subject != "sub-alice" || !strings.HasPrefix(id.AccessToken, "opaque-") {
		t.Fatalf("PasswordLogin = %+v, %v", id, err)
	}
	if n := f.hit("/introspect") + f.hit("/userinfo"); n != 0 {
		t.Errorf("%d validation requests despite a usable ID token", n)
	}
	f.idTokenAud = "another-client"
	if id, err := c.PasswordLogin(context.Background(), "bob", "bob-pw"); err != nil || id.Username != "bob" {
		t.Fatalf("PasswordLogin = %+v, %v", id, err)
	}
	if f.hit("/introspect") != 1 {
		t.Errorf("an ID token for another client was trusted (introspections: %d)", f.hit("/introspect"))
	}
}

// auto with JWT access tokens that do not name the user (Glewlwyd's default):
// the grant's ID token names the user, so a login is one request, not two.
func TestPasswordLoginJWTWithoutUsername(t *testing.T) {
	f := newFakeIdP(t)
	f.jwtNoUser = true
	f.idTokenAud = testClientID
	c, _ := start(t, f.config(ValidationAuto))
	id, err := c.PasswordLogin(context.Background(), "alice", "alice-pw")
	if err != nil || id.Username != "alice" {
		t.Fatalf("PasswordLogin = %+v, %v", id, err)
	}
	if n := f.hit("/introspect") + f.hit("/userinfo"); n != 0 {
		t.Errorf("%d validation requests despite a usable ID token", n)
	}
	if n := f.hit("/token"); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
}
