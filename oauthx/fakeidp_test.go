package oauthx

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/rs/zerolog"
)

// fakeIdP is an in-process authorization server for fault and unit tests.
// Handlers can be replaced per path to inject faults.
type fakeIdP struct {
	t      testing.TB
	srv    *httptest.Server
	issuer string

	mu         sync.Mutex
	key        *rsa.PrivateKey
	kid        string
	users      map[string]string
	secret     string
	revoked    map[string]bool
	hits       map[string]int
	override   map[string]http.HandlerFunc
	meta       map[string]any // extra/overriding metadata fields
	claims     map[string]any // extra claims in issued JWTs and userinfo
	tokenTTL   time.Duration
	opaque     bool // issue opaque tokens instead of JWTs
	jwtNoUser  bool // issue JWT access tokens without the username field (Glewlwyd's default)
	postAuth   bool // expect client_secret_post
	issued     map[string]string
	typ        string
	userField  string // the claim issued tokens carry the username in
	idTokenAud string // when set, the password grant also returns an ID token for it
}

const testClientID = "proxy"

func newFakeIdP(t testing.TB) *fakeIdP { return newFakeIdPServer(t, httptest.NewServer) }

// newFakeIdPServer starts the fake with httptest.NewServer or NewTLSServer.
func newFakeIdPServer(t testing.TB, serve func(http.Handler) *httptest.Server) *fakeIdP {
	t.Helper()
	f := &fakeIdP{
		t: t, users: map[string]string{"alice": "alice-pw", "bob": "bob-pw"},
		secret: "client-s3cret-value", revoked: map[string]bool{}, hits: map[string]int{},
		override: map[string]http.HandlerFunc{}, meta: map[string]any{}, claims: map[string]any{},
		tokenTTL: time.Hour, issued: map[string]string{}, typ: "at+jwt", userField: "preferred_username",
	}
	f.key, f.kid = newRSAKey(t), "k1"
	mux := http.NewServeMux()
	mux.HandleFunc("/", f.route)
	f.srv = serve(mux)
	f.issuer = f.srv.URL + "/realm"
	t.Cleanup(f.srv.Close)
	return f
}

func newRSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (f *fakeIdP) url(p string) string { return f.issuer + p }

func (f *fakeIdP) hit(p string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[p]
}

func (f *fakeIdP) set(p string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.override[p] = h
}

func (f *fakeIdP) route(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/realm")
	f.mu.Lock()
	f.hits[p]++
	h := f.override[p]
	f.mu.Unlock()
	if h != nil {
		h(w, r)
		return
	}
	switch p {
	case "/.well-known/openid-configuration":
		f.metadata(w)
	case "/jwks":
		f.mu.Lock()
		set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &f.key.PublicKey, KeyID: f.kid, Algorithm: "RS256", Use: "sig"}}}
		f.mu.Unlock()
		writeJSON(w, 200, set)
	case "/token":
		f.token(w, r)
	case "/userinfo":
		f.userinfo(w, r)
	case "/introspect":
		f.introspect(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeIdP) metadata(w http.ResponseWriter) {
	m := map[string]any{
		"issuer": f.issuer, "token_endpoint": f.url("/token"), "userinfo_endpoint": f.url("/userinfo"),
		"introspection_endpoint": f.url("/introspect"), "jwks_uri": f.url("/jwks"),
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
	}
	f.mu.Lock()
	for k, v := range f.meta {
		m[k] = v
	}
	f.mu.Unlock()
	writeJSON(w, 200, m)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// clientOK checks the client's credentials the way the IdP is configured.
func (f *fakeIdP) clientOK(r *http.Request) bool {
	f.mu.Lock()
	post, secret := f.postAuth, f.secret
	f.mu.Unlock()
	if post {
		_, _, basic := r.BasicAuth()
		return !basic && r.PostFormValue("client_id") == testClientID && r.PostFormValue("client_secret") == secret
	}
	id, sec, ok := r.BasicAuth()
	return ok && id == testClientID && sec == secret && r.PostFormValue("client_secret") == ""
}

func (f *fakeIdP) token(w http.ResponseWriter, r *http.Request) {
	if r.PostFormValue("grant_type") != "password" {
		writeJSON(w, 400, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	if !f.clientOK(r) {
		writeJSON(w, 401, map[string]string{"error": "invalid_client"})
		return
	}
	user := r.PostFormValue("username")
	f.mu.Lock()
	pw, known := f.users[user]
	f.mu.Unlock()
	if !known || pw != r.PostFormValue("password") {
		writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "bad user credentials"})
		return
	}
	out := map[string]any{"access_token": f.issue(user), "token_type": "Bearer", "expires_in": 3600}
	f.mu.Lock()
	if f.idTokenAud != "" {
		out["id_token"] = signJWT(f.t, f.key, f.kid, "JWT", f.issuer, time.Hour,
			map[string]any{"sub": "sub-" + user, "aud": f.idTokenAud, f.userField: user})
	}
	f.mu.Unlock()
	writeJSON(w, 200, out)
}

// issue makes a token for user: a JWT signed with the current key, or opaque.
func (f *fakeIdP) issue(user string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.opaque {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		tok := "opaque-" + base64.RawURLEncoding.EncodeToString(b)
		f.issued[tok] = user
		return tok
	}
	claims := map[string]any{"sub": "sub-" + user, f.userField: user}
	if f.jwtNoUser {
		delete(claims, f.userField)
	}
	for k, v := range f.claims {
		claims[k] = v
	}
	tok := signJWT(f.t, f.key, f.kid, f.typ, f.issuer, f.tokenTTL, claims)
	f.issued[tok] = user
	return tok
}

func signJWT(t testing.TB, key *rsa.PrivateKey, kid, typ, iss string, ttl time.Duration, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", kid)
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	std := jwt.Claims{Issuer: iss, IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-time.Second)),
		Expiry: jwt.NewNumericDate(now.Add(ttl))}
	s, err := jwt.Signed(sig).Claims(std).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// userOf says whose a token is, or "" if it is unknown, revoked or expired.
func (f *fakeIdP) userOf(tok string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.revoked[tok] {
		return ""
	}
	if f.opaque {
		return f.issued[tok]
	}
	parsed, err := jwt.ParseSigned(tok, jwtAlgorithms)
	if err != nil {
		return ""
	}
	var std jwt.Claims
	if parsed.Claims(&f.key.PublicKey, &std) != nil || std.ValidateWithLeeway(jwt.Expected{}, 0) != nil {
		return ""
	}
	return f.issued[tok]
}

func (f *fakeIdP) userinfo(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	user := f.userOf(tok)
	if !ok || user == "" {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(401)
		return
	}
	out := map[string]any{"sub": "sub-" + user, f.userField: user}
	f.mu.Lock()
	for k, v := range f.claims {
		out[k] = v
	}
	f.mu.Unlock()
	writeJSON(w, 200, out)
}

func (f *fakeIdP) introspect(w http.ResponseWriter, r *http.Request) {
	if !f.clientOK(r) {
		w.WriteHeader(401)
		return
	}
	user := f.userOf(r.PostFormValue("token"))
	if user == "" {
		writeJSON(w, 200, map[string]any{"active": false})
		return
	}
	writeJSON(w, 200, map[string]any{"active": true, "username": user, "sub": "sub-" + user,
		"exp": time.Now().Add(time.Hour).Unix()})
}

// config is a Config discovering f, with a short timeout and a log buffer.
func (f *fakeIdP) config(mode string) Config {
	return Config{
		Issuer: f.issuer, ClientID: testClientID, ClientSecret: f.secret, ResourceOwnerPassword: true,
		Validation: mode, Timeout: 2 * time.Second,
	}
}

// start builds, starts and waits for a client.
func start(t testing.TB, cfg Config) (*Client, *syncBuffer) {
	t.Helper()
	buf := new(syncBuffer)
	cfg.Logger = zerolog.New(buf)
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	c.Start(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	return c, buf
}

// syncBuffer lets the background loop and tests log into one buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
