package testenv

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"
)

// Glewlwyd is a running Glewlwyd with two OpenID Connect plugin instances.
type Glewlwyd struct {
	BaseURL string // http://127.0.0.1:port/api

	// The main plugin: RS256 JWT access tokens carrying preferred_username.
	Issuer, DiscoveryURL, TokenURL, UserinfoURL, IntrospectURL, RevokeURL, JWKSURL string

	// ClientID and ClientSecret name a confidential client that may use the
	// password grant, introspection and revocation on both plugins.
	ClientID, ClientSecret string
	Scope                  string // "openid xmpp"

	// Users holds the users created at start, name -> password (alice, bob,
	// carol and Options.Users). AddUser does not change it.
	Users map[string]string

	// A second plugin whose access tokens expire after ShortTokenLifetime,
	// for expired-token tests. Its signing key differs from the main one.
	ShortIssuer, ShortDiscoveryURL, ShortTokenURL, ShortUserinfoURL, ShortIntrospectURL, ShortRevokeURL, ShortJWKSURL string
	ShortTokenLifetime                                                                                                time.Duration

	// A third plugin like Glewlwyd's default: its access tokens carry no
	// username claim (the ID token and userinfo do).
	DefaultLikeIssuer, DefaultLikeDiscoveryURL string

	// AdminUser and AdminPassword log in to the admin REST API (the
	// defaults of Glewlwyd's initial database).
	AdminUser, AdminPassword string

	// LoginURL is Glewlwyd's own login page, served from a copy of the
	// packaged webapp; empty when the package ships none.
	LoginURL string

	ConfigPath string
	webapp     string // the webapp copy Glewlwyd serves, "" if none
	proc       *process
	http       *http.Client // OAuth client requests
	admin      *http.Client // admin API, with the session cookie

	clientMu  sync.Mutex
	redirects []string // added to the client by AllowRedirectURI
	mfaReady  bool     // MFAScope exists and the client may ask for it
}

const (
	glewlwydInitSQL = "/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz"
	mainPlugin      = "oidc"
	shortPlugin     = "oidcshort"
	// defaultLikePlugin's access tokens name no user, as Glewlwyd's default.
	defaultLikePlugin = "oidcdefault"
)

// No use_secure_connection line at all: even "= false" makes Glewlwyd
// demand key and certificate paths.
var glewlwydConfig = template.Must(template.New("glewlwyd").Parse(`# written by internal/testenv
port={{.Port}}
bind_address="127.0.0.1"
external_url="http://127.0.0.1:{{.Port}}"
api_prefix="api"
log_mode="console"
log_level="INFO"
admin_scope="g_admin"
profile_scope="g_profile"
login_api_enabled=true
admin_session_authentication="cookie"
cookie_secure=0
session_key="GLEWLWYD2_SESSION_ID"
{{- if .Webapp}}
login_url="login.html"
static_files_path="{{.Webapp}}/"
static_files_mime_types=(
  { extension=".html" mime_type="text/html" compress=1 },
  { extension=".css" mime_type="text/css" compress=1 },
  { extension=".js" mime_type="application/javascript" compress=1 },
  { extension=".json" mime_type="application/json" compress=1 },
  { extension=".png" mime_type="image/png" compress=0 },
  { extension=".ico" mime_type="image/x-icon" compress=0 },
  { extension=".ttf" mime_type="font/ttf" compress=0 },
  { extension=".woff" mime_type="font/woff" compress=0 },
  { extension=".woff2" mime_type="font/woff2" compress=0 },
  { extension=".svg" mime_type="image/svg+xml" compress=1 }
)
{{- end}}
hash_algorithm="SHA512"
user_module_path="/usr/lib/glewlwyd/user"
user_middleware_module_path="/usr/lib/glewlwyd/user_middleware"
client_module_path="/usr/lib/glewlwyd/client"
user_auth_scheme_module_path="/usr/lib/glewlwyd/scheme"
plugin_module_path="/usr/lib/glewlwyd/plugin"
database={ type="sqlite3"; path="{{.DB}}" };
`))

// newGlewlwyd creates its database from the packaged schema.
func newGlewlwyd(ctx context.Context, dir string) (*Glewlwyd, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Open(glewlwydInitSQL)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	db := filepath.Join(dir, "glewlwyd.db")
	cmd := exec.CommandContext(ctx, "sqlite3", db)
	cmd.Stdin = zr
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("init glewlwyd database: %w: %s", err, bytes.TrimSpace(out))
	}
	webapp, err := copyWebapp(ctx, dir)
	if err != nil {
		return nil, err
	}
	jar, _ := cookiejar.New(nil)
	return &Glewlwyd{
		webapp:             webapp,
		ClientID:           "xmpp-oauth-proxy",
		ClientSecret:       randomSecret(),
		Scope:              "openid xmpp",
		Users:              map[string]string{},
		ShortTokenLifetime: 3 * time.Second,
		AdminUser:          "admin",
		AdminPassword:      "password",
		ConfigPath:         filepath.Join(dir, "glewlwyd.conf"),
		http:               &http.Client{Timeout: 15 * time.Second},
		admin:              &http.Client{Jar: jar, Timeout: 15 * time.Second},
	}, nil
}

func (g *Glewlwyd) writeConfig(port int) error {
	g.BaseURL = "http://127.0.0.1:" + strconv.Itoa(port) + "/api"
	if g.webapp != "" {
		g.LoginURL = "http://127.0.0.1:" + strconv.Itoa(port) + "/login.html"
	}
	plugin := func(name string) (iss, disc, tok, ui, intro, rev, jwks string) {
		iss = g.BaseURL + "/" + name
		return iss, iss + "/.well-known/openid-configuration", iss + "/token", iss + "/userinfo",
			iss + "/introspect", iss + "/revoke", iss + "/jwks"
	}
	g.Issuer, g.DiscoveryURL, g.TokenURL, g.UserinfoURL, g.IntrospectURL, g.RevokeURL, g.JWKSURL = plugin(mainPlugin)
	g.ShortIssuer, g.ShortDiscoveryURL, g.ShortTokenURL, g.ShortUserinfoURL, g.ShortIntrospectURL, g.ShortRevokeURL, g.ShortJWKSURL = plugin(shortPlugin)
	g.DefaultLikeIssuer, g.DefaultLikeDiscoveryURL, _, _, _, _, _ = plugin(defaultLikePlugin)
	var buf bytes.Buffer
	err := glewlwydConfig.Execute(&buf, map[string]any{
		"Port": port, "DB": filepath.Join(filepath.Dir(g.ConfigPath), "glewlwyd.db"), "Webapp": g.webapp,
	})
	if err != nil {
		return err
	}
	return os.WriteFile(g.ConfigPath, buf.Bytes(), 0o600)
}

func (g *Glewlwyd) start(ctx context.Context) error {
	dir := filepath.Dir(g.ConfigPath)
	cmd := exec.Command("glewlwyd", "-c", g.ConfigPath)
	cmd.Dir = dir
	proc, err := startProcess("glewlwyd", filepath.Join(dir, "glewlwyd.log"), cmd)
	if err != nil {
		return err
	}
	g.proc = proc
	// Glewlwyd logs "started" before it binds, and a connect could reach
	// whoever holds a taken port: ask for its own /config document instead.
	// On a bind failure it exits, which waitReady notices.
	probe := strings.TrimSuffix(g.BaseURL, "/api") + "/config"
	return proc.waitReady(ctx, func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, probe, nil)
		if err != nil {
			return false, err
		}
		resp, err := g.http.Do(req)
		if err != nil {
			return false, nil
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(`"admin_scope"`)), nil
	})
}
