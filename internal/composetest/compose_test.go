package composetest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/tlscerts"
)

// composeFile is the part of docker-compose.yml these tests read.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       *composeBuild     `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	Expose      []string          `yaml:"expose"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

type composeBuild struct {
	Context string            `yaml:"context"`
	Args    map[string]string `yaml:"args"`
}

// mount is a short-syntax bind mount, host:container[:mode].
type mount struct{ host, container string }

func (s composeService) mounts(t *testing.T) []mount {
	t.Helper()
	var ms []mount
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || !strings.HasPrefix(parts[0], ".") {
			t.Errorf("volume %q: want a bind mount ./host:/container[:ro]", v)
			continue
		}
		ms = append(ms, mount{host: parts[0], container: parts[1]})
	}
	return ms
}

// published maps container port to host port for "[ip:]host:container[/tcp]".
func (s composeService) published() map[string]string {
	m := map[string]string{}
	for _, p := range s.Ports {
		p, _, _ = strings.Cut(p, "/")
		parts := strings.Split(p, ":")
		if len(parts) >= 2 {
			m[parts[len(parts)-1]] = parts[len(parts)-2]
		}
	}
	return m
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var cf composeFile
	if err := yaml.Unmarshal(readFile(t, filepath.Join(repoRoot(t), "docker-compose.yml")), &cf); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, name := range []string{"keycloak", "prosody", "xmpp-oauth-proxy"} {
		if _, ok := cf.Services[name]; !ok {
			t.Fatalf("docker-compose.yml: no service %q", name)
		}
	}
	return cf
}

// materialize copies a service's bind mounts into a fresh directory laid out as the
// container sees its filesystem, and returns that directory.
func materialize(t *testing.T, s composeService) string {
	t.Helper()
	root, dir := repoRoot(t), t.TempDir()
	for _, m := range s.mounts(t) {
		if err := copyTree(filepath.Join(root, m.host), filepath.Join(dir, filepath.FromSlash(m.container))); err != nil {
			t.Fatalf("mount %s:%s: %v", m.host, m.container, err)
		}
	}
	return dir
}

// initSecretKey does what the compose service secret-key does on the first `up`:
// a random key in the proxy's secrets mount. It first checks that the service
// exists, writes that file, and runs before the proxy.
func initSecretKey(t *testing.T, cf composeFile, fsRoot string) {
	t.Helper()
	init, ok := cf.Services["secret-key"]
	if !ok {
		t.Fatal("docker-compose.yml: no secret-key service to generate the proxy's key")
	}
	script := strings.Join(init.Command, " ")
	if !strings.Contains(script, "/dev/urandom") || !strings.Contains(script, "/secrets/secret-key") {
		t.Fatalf("secret-key service does not generate /secrets/secret-key from /dev/urandom: %q", script)
	}
	if c := cf.Services["xmpp-oauth-proxy"].DependsOn["secret-key"].Condition; c != "service_completed_successfully" {
		t.Fatalf("the proxy does not wait for secret-key to complete (condition %q)", c)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	writeFile(t, filepath.Join(fsRoot, "etc", "xmpp-oauth-proxy", "secrets"), "secret-key", base64.StdEncoding.EncodeToString(key)+"\n")
}

func TestComposeServices(t *testing.T) {
	cf := loadCompose(t)
	root := repoRoot(t)

	kc := cf.Services["keycloak"]
	if !strings.HasPrefix(kc.Image, "quay.io/keycloak/keycloak:26") {
		t.Errorf("keycloak image %q, want quay.io/keycloak/keycloak:26.x", kc.Image)
	}
	if !slices.Contains(kc.Command, "start-dev") || !slices.Contains(kc.Command, "--import-realm") {
		t.Errorf("keycloak command %q, want start-dev --import-realm", kc.Command)
	}
	if kc.Environment["KC_HEALTH_ENABLED"] != "true" {
		t.Errorf("keycloak: KC_HEALTH_ENABLED is not true: its healthcheck would never pass")
	}
	if !strings.HasPrefix(cf.Services["prosody"].Image, "prosodyim/prosody:") {
		t.Errorf("prosody image %q, want the official prosodyim/prosody", cf.Services["prosody"].Image)
	}
	if len(cf.Services["prosody"].Ports) != 0 {
		t.Errorf("prosody publishes %q: clients must go through the proxy", cf.Services["prosody"].Ports)
	}

	proxy := cf.Services["xmpp-oauth-proxy"]
	if proxy.Build == nil || proxy.Build.Context != "." {
		t.Errorf("xmpp-oauth-proxy is not built from the repository's Dockerfile")
	}
	pub := proxy.published()
	for _, port := range []string{"5222", "5223", "5281", "9090"} {
		if _, ok := pub[port]; !ok {
			t.Errorf("xmpp-oauth-proxy does not publish container port %s (ports %q)", port, proxy.Ports)
		}
	}

	for name, svc := range cf.Services {
		for _, m := range svc.mounts(t) {
			if _, err := os.Stat(filepath.Join(root, m.host)); err != nil {
				t.Errorf("service %s mounts %s, which does not exist: %v", name, m.host, err)
			}
		}
		for dep, d := range svc.DependsOn {
			target, ok := cf.Services[dep]
			switch {
			case !ok:
				t.Errorf("service %s depends on unknown service %s", name, dep)
			case d.Condition == "service_healthy" && (target.Healthcheck == nil || len(target.Healthcheck.Test) == 0):
				t.Errorf("service %s waits for %s to be healthy, which has no healthcheck", name, dep)
			}
		}
	}
	for _, dep := range []string{"keycloak", "prosody"} {
		if _, ok := proxy.DependsOn[dep]; !ok {
			t.Errorf("xmpp-oauth-proxy does not depend on %s", dep)
		}
	}
	if proxy.DependsOn["keycloak"].Condition != "service_healthy" {
		t.Errorf("xmpp-oauth-proxy starts before keycloak is healthy: discovery would fail")
	}
}

// realm is the part of a Keycloak realm export these tests read.
type realm struct {
	Realm   string `json:"realm"`
	Enabled bool   `json:"enabled"`
	Clients []struct {
		ClientID                  string `json:"clientId"`
		Enabled                   bool   `json:"enabled"`
		PublicClient              bool   `json:"publicClient"`
		Secret                    string `json:"secret"`
		DirectAccessGrantsEnabled bool   `json:"directAccessGrantsEnabled"`
		ProtocolMappers           []struct {
			ProtocolMapper string            `json:"protocolMapper"`
			Config         map[string]string `json:"config"`
		} `json:"protocolMappers"`
	} `json:"clients"`
	Users []struct {
		Username        string              `json:"username"`
		Enabled         bool                `json:"enabled"`
		RequiredActions []string            `json:"requiredActions"`
		Attributes      map[string][]string `json:"attributes"`
		Credentials     []struct {
			Type      string `json:"type"`
			Value     string `json:"value"`
			Temporary bool   `json:"temporary"`
		} `json:"credentials"`
	} `json:"users"`
	Components map[string][]struct {
		ProviderID string              `json:"providerId"`
		Config     map[string][]string `json:"config"`
	} `json:"components"`
}

func loadRealm(t *testing.T, cf composeFile) realm {
	t.Helper()
	var host string
	for _, m := range cf.Services["keycloak"].mounts(t) {
		if strings.HasPrefix(m.container, "/opt/keycloak/data/import/") && strings.HasSuffix(m.container, ".json") {
			host = m.host
		}
	}
	if host == "" {
		t.Fatal("keycloak: no realm JSON mounted into /opt/keycloak/data/import/")
	}
	var r realm
	if err := json.Unmarshal(readFile(t, filepath.Join(repoRoot(t), host)), &r); err != nil {
		t.Fatalf("%s: %v", host, err)
	}
	return r
}

func TestComposeRealm(t *testing.T) {
	r := loadRealm(t, loadCompose(t))
	if r.Realm != "xmpp" || !r.Enabled {
		t.Errorf("realm %q enabled=%v, want xmpp enabled", r.Realm, r.Enabled)
	}
	found := false
	for _, c := range r.Clients {
		if c.ClientID != "xmpp-proxy" {
			continue
		}
		found = true
		if !c.Enabled || c.PublicClient || c.Secret == "" {
			t.Errorf("client xmpp-proxy: want an enabled confidential client with a secret")
		}
		if !c.DirectAccessGrantsEnabled {
			t.Errorf("client xmpp-proxy: directAccessGrantsEnabled is false: SASL PLAIN needs the password grant")
		}
		claims := map[string]map[string]string{}
		for _, m := range c.ProtocolMappers {
			claims[m.Config["claim.name"]] = m.Config
		}
		for _, claim := range []string{"preferred_username", "xmpp_username"} {
			cfg, ok := claims[claim]
			if !ok {
				t.Errorf("client xmpp-proxy has no mapper for claim %s", claim)
				continue
			}
			for _, where := range []string{"access.token.claim", "userinfo.token.claim", "introspection.token.claim"} {
				if cfg[where] != "true" {
					t.Errorf("claim %s: %s is not true", claim, where)
				}
			}
		}
		if claims["preferred_username"]["user.attribute"] != "username" {
			t.Errorf("preferred_username does not carry the username")
		}
	}
	if !found {
		t.Fatal("realm has no client xmpp-proxy")
	}

	users := map[string]bool{}
	for _, u := range r.Users {
		ok := u.Enabled && len(u.RequiredActions) == 0 && len(u.Credentials) == 1 &&
			u.Credentials[0].Type == "password" && u.Credentials[0].Value != "" && !u.Credentials[0].Temporary
		if !ok {
			t.Errorf("user %s: want enabled, no required actions, one permanent password", u.Username)
		}
		users[u.Username] = ok
		if got := u.Attributes["xmpp_username"]; len(got) != 1 || got[0] != u.Username {
			t.Errorf("user %s: xmpp_username attribute %q", u.Username, got)
		}
	}
	if !users["alice"] || !users["bob"] {
		t.Errorf("users %v, want alice and bob", users)
	}

	// Keycloak 24+ drops undeclared attributes; xmpp_username must be declared, and
	// only admins may edit it: a user who could would log in as anyone.
	var up struct {
		Attributes []struct {
			Name        string `json:"name"`
			Permissions struct {
				Edit []string `json:"edit"`
			} `json:"permissions"`
		} `json:"attributes"`
	}
	providers := r.Components["org.keycloak.userprofile.UserProfileProvider"]
	if len(providers) != 1 || len(providers[0].Config["kc.user.profile.config"]) != 1 {
		t.Fatal("realm has no declarative user profile")
	}
	if err := json.Unmarshal([]byte(providers[0].Config["kc.user.profile.config"][0]), &up); err != nil {
		t.Fatalf("user profile config: %v", err)
	}
	declared := false
	for _, a := range up.Attributes {
		if a.Name == "xmpp_username" {
			declared = true
			if !slices.Equal(a.Permissions.Edit, []string{"admin"}) {
				t.Errorf("xmpp_username editable by %q, want admin only", a.Permissions.Edit)
			}
		}
	}
	if !declared {
		t.Errorf("user profile does not declare xmpp_username")
	}
}

// TestComposeProxyConfig loads the proxy's config as the container sees it: mounts in
// place, environment set; then checks it against the other services.
func TestComposeProxyConfig(t *testing.T) {
	cf := loadCompose(t)
	proxy, prosody := cf.Services["xmpp-oauth-proxy"], cf.Services["prosody"]
	r := loadRealm(t, cf)

	fsRoot := materialize(t, proxy)
	initSecretKey(t, cf, fsRoot)
	for k, v := range proxy.Environment {
		t.Setenv(k, v)
	}
	cfgPath := flagValue(proxy.Command, "-c")
	if cfgPath == "" {
		cfgPath = "/etc/xmpp-oauth-proxy/config.yaml" // the image's CMD
	}
	cfg := checkConfig(t, filepath.Join(fsRoot, filepath.FromSlash(cfgPath)))

	// Listeners and metrics are the ports compose publishes.
	pub := proxy.published()
	for _, l := range cfg.Listeners {
		if _, port, _ := net.SplitHostPort(l.Address); pub[port] == "" {
			t.Errorf("listener %s (%s) is not published", l.Address, l.Mode)
		}
	}
	if _, port, _ := net.SplitHostPort(cfg.Metrics.Address); pub[port] == "" {
		t.Errorf("metrics %q is not published", cfg.Metrics.Address)
	}

	// OAuth: the keycloak service, the imported realm, its client and secret.
	iss, err := url.Parse(cfg.OAuth.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cf.Services[iss.Hostname()]; !ok || iss.Hostname() != "keycloak" {
		t.Errorf("oauth.issuer %s is not the keycloak service", cfg.OAuth.Issuer)
	}
	if iss.Path != "/realms/"+r.Realm {
		t.Errorf("oauth.issuer path %s, want /realms/%s", iss.Path, r.Realm)
	}
	var secret string
	for _, c := range r.Clients {
		if c.ClientID == cfg.OAuth.ClientID {
			secret = c.Secret
		}
	}
	if secret == "" {
		t.Errorf("oauth.client_id %q is not a client of the realm", cfg.OAuth.ClientID)
	} else if cfg.OAuth.ClientSecret != secret {
		t.Errorf("oauth.client_secret (from the environment) differs from the realm's client secret")
	}

	// Upstream: the prosody service, its admin account, its certificate.
	if len(cfg.Domains) != 1 {
		t.Fatalf("domains: %d, want 1", len(cfg.Domains))
	}
	d := cfg.Domains[0]
	u := d.Upstream
	host, port, _ := net.SplitHostPort(u.Address)
	if _, ok := cf.Services[host]; !ok || host != "prosody" || !slices.Contains(prosody.Expose, port) {
		t.Errorf("upstream %s is not the prosody service's exposed c2s port (%q)", u.Address, prosody.Expose)
	}
	lua := string(readFile(t, filepath.Join(repoRoot(t), "configs", "compose", "prosody", "prosody.cfg.lua")))
	if !regexp.MustCompile(`(?m)^c2s_ports\s*=\s*\{\s*` + port + `\s*\}`).MatchString(lua) {
		t.Errorf("prosody.cfg.lua does not listen for clients on %s", port)
	}
	if !strings.Contains(lua, `VirtualHost "`+d.Name+`"`) {
		t.Errorf("prosody.cfg.lua has no VirtualHost %q", d.Name)
	}
	if u.Credentials != "managed" {
		t.Errorf("upstream credentials %q, want managed", u.Credentials)
	}
	env := prosody.Environment
	if want := env["LOCAL"] + "@" + env["DOMAIN"]; u.AdminJID != want {
		t.Errorf("admin_jid %q, but prosody registers %q", u.AdminJID, want)
	}
	if u.AdminPassword != env["PASSWORD"] {
		t.Errorf("admin password file differs from prosody's PASSWORD")
	}
	if !regexp.MustCompile(`admins\s*=\s*\{[^}]*"` + regexp.QuoteMeta(u.AdminJID) + `"`).MatchString(lua) {
		t.Errorf("%s is not in prosody's admins: XEP-0133 would be refused", u.AdminJID)
	}
	for _, mod := range []string{`"adhoc"`, `"admin_adhoc"`} {
		if !strings.Contains(lua, mod) {
			t.Errorf("prosody.cfg.lua does not enable %s", mod)
		}
	}

	// The proxy's certificate names the domain clients log in to.
	var pairs []tlscerts.Pair
	for _, c := range cfg.TLS.Certificates {
		pairs = append(pairs, tlscerts.Pair{CertFile: c.CertFile, KeyFile: c.KeyFile})
	}
	store, err := tlscerts.Load(pairs)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.ForName(d.Name).Leaf.VerifyHostname(d.Name); err != nil {
		t.Errorf("proxy certificate for %s: %v", d.Name, err)
	}

	// Prosody's certificate verifies against the upstream's ca_file for server_name.
	pfs := materialize(t, prosody)
	m := regexp.MustCompile(`certificate\s*=\s*"([^"]+)"[\s\S]*?key\s*=\s*"([^"]+)"`).FindStringSubmatch(lua)
	if m == nil {
		t.Fatal("prosody.cfg.lua names no ssl certificate and key")
	}
	pcert, pkey := filepath.Join(pfs, m[1]), filepath.Join(pfs, m[2])
	if _, err := tls.LoadX509KeyPair(pcert, pkey); err != nil {
		t.Fatalf("prosody's certificate as mounted: %v", err)
	}
	block, _ := pem.Decode(readFile(t, pcert))
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(readFile(t, u.CAFile)) {
		t.Fatalf("upstream ca_file %s holds no certificate", u.CAFile)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: u.ServerName}); err != nil {
		t.Errorf("prosody's certificate does not verify for %q with the upstream ca_file: %v", u.ServerName, err)
	}
}

// TestComposeConfigValidates asks docker compose itself, when it is installed; it
// needs no engine for `config`.
func TestComposeConfigValidates(t *testing.T) {
	root := repoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var cmd *exec.Cmd
	if docker, err := exec.LookPath("docker"); err == nil && exec.CommandContext(ctx, docker, "compose", "version").Run() == nil {
		cmd = exec.CommandContext(ctx, docker, "compose", "-f", "docker-compose.yml", "config", "-q")
	} else if dc, err := exec.LookPath("docker-compose"); err == nil {
		cmd = exec.CommandContext(ctx, dc, "-f", "docker-compose.yml", "config", "-q")
	} else {
		if os.Getenv("CI") == "true" {
			t.Fatal("docker-compose missing: scripts/setup-debian.sh installs it")
		}
		t.Skip("neither the docker compose plugin nor docker-compose is installed (apt-get install docker-compose)")
	}
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
}
