package config

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

func randomB64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func TestStoreConfig(t *testing.T) {
	key := randomB64(32)
	cfg, err := Load(write(t, minimal+fmt.Sprintf("store: {path: creds.db, secret_key: %q, encryption_keys: [\"k2:%s\"]}\n", key, randomB64(32))))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Store.Enabled() || !strings.HasSuffix(cfg.Store.Path, "/creds.db") || cfg.AppPasswords.Recheck.Minutes() != 15 {
		t.Fatalf("store = %+v, app_passwords = %+v", cfg.Store, cfg.AppPasswords)
	}
	if keys, err := ParseEncryptionKeys(cfg.Store.EncryptionKeys); err != nil || len(keys) != 1 || keys[0].ID != "k2" {
		t.Fatalf("encryption keys: %v %v", keys, err)
	}
	if cfg, err := Load(write(t, minimal)); err != nil || cfg.Store.Enabled() {
		t.Fatalf("no store configured: enabled=%v err=%v", cfg != nil && cfg.Store.Enabled(), err)
	}

	secretKey := randomB64(32)
	badKey := randomB64(16)
	for name, c := range map[string]struct{ yaml, key string }{
		"store without secret":           {"store: {path: creds.db}\n", "store.secret_key"},
		"placeholder secret":             {"store: {path: creds.db, secret_key: change-me-to-32-random-characters}\n", "store.secret_key"},
		"postgres without dsn":           {fmt.Sprintf("store: {driver: postgres, secret_key: %q}\n", secretKey), "store.dsn"},
		"unknown driver":                 {fmt.Sprintf("store: {driver: mysql, path: x, secret_key: %q}\n", secretKey), "store.driver"},
		"short encryption key":           {fmt.Sprintf("store: {path: x, secret_key: %q, encryption_keys: [\"k:%s\"]}\n", secretKey, badKey), "store.encryption_keys"},
		"encryption key no id":           {fmt.Sprintf("store: {path: x, secret_key: %q, encryption_keys: [%q]}\n", secretKey, randomB64(32)), "store.encryption_keys"},
		"recheck under a second":         {fmt.Sprintf("store: {path: x, secret_key: %q}\napp_passwords: {recheck: 10ms}\n", secretKey), "app_passwords.recheck"},
		"scram neither auto, on nor off": {fmt.Sprintf("store: {path: x, secret_key: %q}\napp_passwords: {scram: yes}\n", secretKey), "app_passwords.scram"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(write(t, minimal+c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.key) {
				t.Fatalf("err = %v, want one naming %s", err, c.key)
			}
			if strings.Contains(err.Error(), secretKey) || strings.Contains(err.Error(), badKey) {
				t.Fatal("the error echoes a key")
			}
		})
	}
}

// SCRAM's default follows the password grant: clients prefer SCRAM, which
// cannot check an IdP password.
func TestSCRAMOffered(t *testing.T) {
	for _, c := range []struct {
		setting string
		grant   bool
		want    bool
	}{{"auto", true, false}, {"auto", false, true}, {"on", true, true}, {"off", false, false}} {
		if got := (AppPasswords{SCRAM: c.setting}).SCRAMOffered(c.grant); got != c.want {
			t.Errorf("scram %s with password grant %v: offered %v, want %v", c.setting, c.grant, got, c.want)
		}
	}
	cfg, err := Load(write(t, minimal))
	if err != nil || cfg.AppPasswords.SCRAM != "auto" {
		t.Fatalf("default scram = %q (%v), want auto", cfg.AppPasswords.SCRAM, err)
	}
}
