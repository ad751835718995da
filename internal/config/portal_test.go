package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// withPortal is minimal plus a portal and its store.
var withPortal = minimal + fmt.Sprintf(`
portal:
  address: "127.0.0.1:8443"
  public_url: https://xmpp.example.org/account
store:
  path: creds.db
  secret_key: %q
`, randomB64(32))

func TestPortalLoads(t *testing.T) {
	path := write(t, withPortal)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Portal
	if !p.Enabled() || cfg.PortalDomain() != "example.org" || p.SessionIdle != 30*time.Minute || p.SessionLifetime != 8*time.Hour {
		t.Errorf("portal = %+v, domain %q; want defaults and the first domain", p, cfg.PortalDomain())
	}
	if cfg.Store.Driver != "sqlite" || cfg.Store.Path != filepath.Join(filepath.Dir(path), "creds.db") {
		t.Errorf("store = %s %s; want sqlite next to the config", cfg.Store.Driver, cfg.Store.Path)
	}
}

func TestEncryptionKeysFromFile(t *testing.T) {
	path := write(t, strings.Replace(withPortal, "  path: creds.db", "  path: creds.db\n  encryption_keys_file: enc.keys", 1))
	keys := fmt.Sprintf("# newest first\n2026-12:%s\n2026-06:%s\n", randomB64(32), randomB64(32))
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "enc.keys"), []byte(keys), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := ParseEncryptionKeys(cfg.Store.EncryptionKeys)
	if err != nil || len(ks) != 2 || ks[0].ID != "2026-12" || len(ks[1].Key) != 32 {
		t.Fatalf("keys from file: %d keys, %v", len(ks), err)
	}
}

func TestPortalRejects(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"no public URL", strings.Replace(withPortal, "public_url: https://xmpp.example.org/account", "", 1), "portal.public_url"},
		{"public URL with query", strings.Replace(withPortal, "/account", "/account?x=1", 1), "portal.public_url"},
		{"unknown domain", strings.Replace(withPortal, "public_url:", "domain: other.org\n  public_url:", 1), "portal.domain"},
		{"cert without key", strings.Replace(withPortal, "public_url:", "cert_file: p.crt\n  public_url:", 1), "portal.cert_file"},
		{"no store", strings.Replace(withPortal, "  path: creds.db\n", "", 1), "store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(write(t, tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
}
