package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// withPortal is minimal plus a portal and its store.
const withPortal = minimal + `
portal:
  address: "127.0.0.1:8443"
  public_url: https://xmpp.example.org/account
store:
  path: creds.db
  hash_key: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=
  encryption_keys:
    - {id: "2026-12", key: "ZW5jcnlwdGlvbi1rZXktMzItYnl0ZXMtbG9uZy4uLi4="}
`

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
	if k, _ := DecodeKey(cfg.Store.EncryptionKeys[0].Key); len(k) != 32 {
		t.Errorf("encryption key decodes to %d bytes, want 32", len(k))
	}
}

func TestPortalKeyFromFile(t *testing.T) {
	path := write(t, strings.Replace(withPortal, `key: "ZW5jcnlwdGlvbi1rZXktMzItYnl0ZXMtbG9uZy4uLi4="`, `key_file: enc.key`, 1))
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "enc.key"), []byte("ZW5jcnlwdGlvbi1rZXktMzItYnl0ZXMtbG9uZy4uLi4=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := DecodeKey(cfg.Store.EncryptionKeys[0].Key); len(k) != 32 {
		t.Fatalf("key_file: %d bytes, want 32", len(k))
	}
}

func TestPortalRejects(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"no public URL", strings.Replace(withPortal, "public_url: https://xmpp.example.org/account", "", 1), "portal.public_url"},
		{"public URL with query", strings.Replace(withPortal, "/account", "/account?x=1", 1), "portal.public_url"},
		{"unknown domain", strings.Replace(withPortal, "public_url:", "domain: other.org\n  public_url:", 1), "portal.domain"},
		{"cert without key", strings.Replace(withPortal, "public_url:", "cert_file: p.crt\n  public_url:", 1), "portal.cert_file"},
		{"short hash key", strings.Replace(withPortal, "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "c2hvcnQ=", 1), "store.hash_key"},
		{"short encryption key", strings.Replace(withPortal, "ZW5jcnlwdGlvbi1rZXktMzItYnl0ZXMtbG9uZy4uLi4=", "c2hvcnQ=", 1), "encryption_keys[0].key"},
		{"no encryption key", strings.Replace(withPortal, `    - {id: "2026-12", key: "ZW5jcnlwdGlvbi1rZXktMzItYnl0ZXMtbG9uZy4uLi4="}`, "", 1), "store.encryption_keys"},
		{"unknown driver", strings.Replace(withPortal, "path: creds.db", "driver: mysql", 1), "store.driver"},
		{"postgres without dsn", strings.Replace(withPortal, "path: creds.db", "driver: postgres", 1), "store.dsn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(write(t, tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "ZW5jcnlwdGlvbi1rZXkt") || strings.Contains(err.Error(), "MDEyMzQ1") {
				t.Fatal("the error quotes a key")
			}
		})
	}
}
