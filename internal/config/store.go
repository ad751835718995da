package config

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"time"
)

// Store is where app passwords (and the IdP grants behind them) live.
// Neither path nor dsn set: no credential store, no app passwords.
type Store struct {
	Driver    string `mapstructure:"driver"` // sqlite | postgres
	Path      string `mapstructure:"path"`   // sqlite file
	DSN       string `mapstructure:"dsn"`    // postgres
	DSNFile   string `mapstructure:"dsn_file"`
	SecretKey string `mapstructure:"secret_key"` // keys the app-password hashes (and, by default, the encryption)
	// SecretKeyFile holds SecretKey.
	SecretKeyFile string `mapstructure:"secret_key_file"`
	// EncryptionKeys are "id:base64(32 bytes)"; the first seals refresh tokens,
	// all open them. Empty: one key derived from SecretKey.
	EncryptionKeys     []string `mapstructure:"encryption_keys"`
	EncryptionKeysFile string   `mapstructure:"encryption_keys_file"` // one "id:base64" per line
}

// Enabled reports whether a credential store is configured.
func (s Store) Enabled() bool { return s.Path != "" || s.DSN != "" }

// AppPasswords tunes how app passwords stay bound to the IdP.
type AppPasswords struct {
	// Recheck is the most a grant goes without asking the IdP (a refresh).
	Recheck time.Duration `mapstructure:"recheck"`
	// Grace is how long past Recheck app passwords keep working while the IdP
	// cannot be reached; after it, logins get temporary-auth-failure.
	Grace time.Duration `mapstructure:"grace"`
	// FASTTokenLifetime is how long a FAST token (XEP-0484) works; it is
	// rotated once less than half is left. 0: no FAST.
	FASTTokenLifetime time.Duration `mapstructure:"fast_token_lifetime"`
	// SCRAM offers SCRAM-SHA-256(-PLUS) for app passwords: "auto" does when
	// the IdP password grant is off (every password is then an app password),
	// "on" always, "off" never. Clients prefer SCRAM to PLAIN, so with the
	// grant on, "on" would fail users who type their IdP password.
	SCRAM string `mapstructure:"scram"`
}

// SCRAMOffered says whether SCRAM is offered for app passwords, given
// whether the IdP password grant is on.
func (a AppPasswords) SCRAMOffered(passwordGrant bool) bool {
	return a.SCRAM == "on" || a.SCRAM == "auto" && !passwordGrant
}

// Sessions tunes how live sessions of password and token logins stay bound to
// the IdP (app-password sessions follow their grant: AppPasswords.Recheck).
type Sessions struct {
	// Recheck is how often such a session is re-checked at the IdP (a refresh of
	// the password grant, or introspection of the token); 0: never.
	Recheck time.Duration `mapstructure:"recheck"`
}

// EncryptionKey is one parsed store encryption key.
type EncryptionKey struct {
	ID  string
	Key []byte
}

// ParseEncryptionKeys reads "id:base64" entries; errors never echo a key.
func ParseEncryptionKeys(entries []string) ([]EncryptionKey, error) {
	var out []EncryptionKey
	for i, e := range entries {
		id, b64, ok := strings.Cut(strings.TrimSpace(e), ":")
		if !ok || id == "" {
			return nil, fmt.Errorf("entry %d: want id:base64-key", i+1)
		}
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("key %q: want 32 bytes in base64 (openssl rand -base64 32)", id)
		}
		out = append(out, EncryptionKey{ID: id, Key: key})
	}
	return out, nil
}

func (c *Config) readStoreSecrets() error {
	s := &c.Store
	if err := readSecret(&s.DSN, s.DSNFile, "store.dsn"); err != nil {
		return err
	}
	if err := readSecret(&s.SecretKey, s.SecretKeyFile, "store.secret_key"); err != nil {
		return err
	}
	if s.EncryptionKeysFile == "" {
		return nil
	}
	if len(s.EncryptionKeys) > 0 {
		return fmt.Errorf("store.encryption_keys and store.encryption_keys_file are both set: keep one")
	}
	b, err := os.ReadFile(s.EncryptionKeysFile)
	if err != nil {
		return fmt.Errorf("store.encryption_keys_file: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			s.EncryptionKeys = append(s.EncryptionKeys, line)
		}
	}
	return nil
}

func (c *Config) validateStore(bad func(string, string, ...any)) {
	if r := c.Sessions.Recheck; r != 0 && r < time.Second {
		bad("sessions.recheck", "must be 0 (off) or at least 1s")
	}
	s := c.Store
	switch s.Driver {
	case "sqlite":
		if s.DSN != "" {
			bad("store.dsn", "is for driver postgres; sqlite uses store.path")
		}
	case "postgres":
		if s.DSN == "" {
			bad("store.dsn", "required with driver postgres (or dsn_file)")
		}
		if s.Path != "" {
			bad("store.path", "is for driver sqlite; postgres uses store.dsn")
		}
	default:
		bad("store.driver", "%q is not one of sqlite, postgres", s.Driver)
	}
	if !s.Enabled() {
		return
	}
	if s.SecretKey == "" {
		bad("store.secret_key", "required with a credential store (or secret_key_file); %s", secretKeyHint)
	} else if err := checkSecretKey(s.SecretKey); err != nil {
		bad("store.secret_key", "%v", err)
	}
	if _, err := ParseEncryptionKeys(s.EncryptionKeys); err != nil {
		bad("store.encryption_keys", "%v", err)
	}
	if c.AppPasswords.Recheck < time.Second {
		bad("app_passwords.recheck", "must be at least 1s")
	}
	if c.AppPasswords.Grace < 0 {
		bad("app_passwords.grace", "must not be negative")
	}
	if c.AppPasswords.FASTTokenLifetime != 0 && c.AppPasswords.FASTTokenLifetime < time.Minute {
		bad("app_passwords.fast_token_lifetime", "must be 0 (off) or at least 1m")
	}
	switch c.AppPasswords.SCRAM {
	case "auto", "on", "off":
	default:
		bad("app_passwords.scram", "%q is not one of auto, on, off", c.AppPasswords.SCRAM)
	}
}
