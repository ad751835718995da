package oauthx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
)

// cannedAnswer answers every request with one status and body: the IdP's
// answers are untrusted input to the parsers behind each endpoint.
type cannedAnswer struct {
	status int
	body   []byte
}

func (a cannedAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: a.status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(a.body)), Request: r,
	}, nil
}

// Discovery, JWKS, introspection, userinfo and token answers never panic and
// fail only with one of oauthx's error classes; an identity has a username.
func FuzzIdPAnswer(f *testing.F) {
	seeds := []string{
		`{"issuer":"https://idp.example","token_endpoint":"https://idp.example/t","jwks_uri":"https://idp.example/k"}`,
		`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"k"},{"kty":"oct","k":"AAAA"}]}`,
		`{"active":true,"username":"alice","sub":"s","exp":99999999999}`,
		`{"active":"yes"}`, `{"active":false}`, `{"active":true,"token_type":"id_token","username":"a"}`,
		`{"sub":"s","preferred_username":"ＡＬＩＣＥ"}`, `{"sub":1,"preferred_username":{"x":1}}`,
		`{"access_token":"a","token_type":"bearer","refresh_token":"r","expires_in":"x"}`,
		`{"error":"invalid_grant"}`, `null`, `[]`, `{`, "",
	}
	for _, s := range seeds {
		for _, st := range []int{200, 400, 401, 500} {
			f.Add(uint8(st%256), s, uint8(len(s)))
		}
	}
	ep := &endpoints{
		issuer: "https://idp.example", token: "https://idp.example/t", userinfo: "https://idp.example/u",
		introspection: "https://idp.example/i", jwks: "https://idp.example/k", loaded: true,
	}
	f.Fuzz(func(t *testing.T, st uint8, body string, which uint8) {
		status := 200
		if st%4 != 0 {
			status = []int{400, 401, 500}[st%4-1]
		}
		c, err := New(Config{Issuer: ep.issuer, ClientID: "proxy", ClientSecret: "s3cret-value", Validation: ValidationIntrospection})
		if err != nil {
			t.Fatal(err)
		}
		c.http.Transport = cannedAnswer{status: status, body: []byte(body)}
		c.ep.Store(ep)
		ctx := context.Background()
		var id Identity
		switch which % 5 {
		case 0:
			_, err = c.fetchMetadata(ctx, ep.issuer+"/.well-known/openid-configuration")
		case 1:
			_, err = c.fetchJWKS(ctx, ep.jwks)
		case 2:
			id, err = c.viaIntrospection(ctx, ep, "opaque-token")
		case 3:
			id, err = c.viaUserinfo(ctx, ep, "opaque-token")
		case 4:
			_, err = c.refreshGrant(ctx, "refresh-token")
		}
		if err == nil {
			if which%5 >= 2 && which%5 <= 3 && id.Username == "" {
				t.Fatal("accepted an answer without a username")
			}
			return
		}
		for _, class := range []error{ErrUnavailable, ErrMisconfigured, ErrInvalidToken, ErrGrantRevoked, ErrInvalidCredentials, errNotFound} {
			if errors.Is(err, class) {
				return
			}
		}
		t.Fatalf("unclassified error %v", err)
	})
}
