package portal

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// fakeIdP is an in-process OpenID provider for fault injection: it signs
// ID tokens with a key of its own and can be told to lie about the nonce.
type fakeIdP struct {
	t   *testing.T
	srv *httptest.Server
	key *rsa.PrivateKey

	mu         sync.Mutex
	pending    map[string]fakeAuth // code -> what /auth was asked
	wrongNonce bool
	noRefresh  bool // answer without a refresh token
	user       string
	// RefreshToken and Code are what it hands out, for the log test.
	refreshToken string
}

type fakeAuth struct{ nonce, challenge, redirect string }

const (
	fakeClientID     = "portal-test"
	fakeClientSecret = "portal-test-secret"
)

func newFakeIdP(t *testing.T) *fakeIdP {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIdP{t: t, key: key, pending: map[string]fakeAuth{}, user: "Alice", refreshToken: "rt-" + rand.Text()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		fakeJSON(w, 200, map[string]any{
			"issuer": f.srv.URL, "authorization_endpoint": f.srv.URL + "/auth", "token_endpoint": f.srv.URL + "/token",
			"jwks_uri": f.srv.URL + "/jwks",
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		fakeJSON(w, 200, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /auth", f.auth)
	mux.HandleFunc("POST /token", f.token)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// change alters how the fake behaves, under its lock.
func (f *fakeIdP) change(fn func(*fakeIdP)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// auth signs the user in at once and redirects back with a fresh code.
func (f *fakeIdP) auth(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != fakeClientID || q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" {
		http.Error(w, "bad authorization request", 400)
		return
	}
	code := "code-" + rand.Text()
	f.mu.Lock()
	f.pending[code] = fakeAuth{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
	f.mu.Unlock()
	back, _ := url.Parse(q.Get("redirect_uri"))
	back.RawQuery = url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// token redeems a code once, checking the client and the PKCE verifier.
func (f *fakeIdP) token(w http.ResponseWriter, r *http.Request) {
	id, secret, _ := r.BasicAuth()
	code := r.PostFormValue("code")
	f.mu.Lock()
	a, ok := f.pending[code]
	delete(f.pending, code)
	nonce, user, refresh := a.nonce, f.user, f.refreshToken
	if f.noRefresh {
		refresh = ""
	}
	if f.wrongNonce {
		nonce = "not-" + nonce
	}
	f.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	if id != fakeClientID || secret != fakeClientSecret || !ok || a.redirect != r.PostFormValue("redirect_uri") ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != a.challenge {
		fakeJSON(w, 400, map[string]string{"error": "invalid_grant"})
		return
	}
	sig, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: f.key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	now := time.Now()
	idToken, err := jwt.Signed(sig).Claims(jwt.Claims{Issuer: f.srv.URL, Subject: "sub-" + user, Audience: jwt.Audience{fakeClientID},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour))}).
		Claims(map[string]any{"nonce": nonce, "preferred_username": user}).Serialize()
	if err != nil {
		f.t.Error(err)
	}
	fakeJSON(w, 200, map[string]any{"access_token": "at-" + rand.Text(), "token_type": "Bearer", "expires_in": 3600,
		"id_token": idToken, "refresh_token": refresh})
}

func fakeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
