package config

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Portal is the self-service page's own HTTP listener.
type Portal struct {
	Address string `mapstructure:"address"` // empty: off
	// PublicURL is where browsers reach the page; the IdP redirects to
	// PublicURL + "/callback", which must be registered for oauth.client_id.
	PublicURL string `mapstructure:"public_url"`
	// CertFile and KeyFile serve the page over HTTPS itself; without them it
	// speaks plain HTTP (behind a TLS-terminating reverse proxy).
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
	// Domain is the XMPP domain app passwords are for; default: the first
	// of domains[].
	Domain string `mapstructure:"domain"`
	// ServerHost is the host shown to users for their app; default: Domain.
	ServerHost      string        `mapstructure:"server_host"`
	SessionIdle     time.Duration `mapstructure:"session_idle"`
	SessionLifetime time.Duration `mapstructure:"session_lifetime"`
}

// Store is the credential store of app passwords and their IdP grants.
type Store struct {
	Driver  string `mapstructure:"driver"` // sqlite | postgres
	Path    string `mapstructure:"path"`   // sqlite file
	DSN     string `mapstructure:"dsn"`    // postgres
	DSNFile string `mapstructure:"dsn_file"`
	// HashKey keys the app-password hashes: base64 of at least 32 random
	// bytes, the same on every replica.
	HashKey     string `mapstructure:"hash_key"`
	HashKeyFile string `mapstructure:"hash_key_file"`
	// EncryptionKeys seal refresh tokens at rest; the first is current.
	EncryptionKeys []EncryptionKey `mapstructure:"encryption_keys"`
}

// EncryptionKey is one AES-256 key: base64 of 32 random bytes.
type EncryptionKey struct {
	ID      string `mapstructure:"id"`
	Key     string `mapstructure:"key"`
	KeyFile string `mapstructure:"key_file"`
}

func defaultPortal() Portal {
	return Portal{SessionIdle: 30 * time.Minute, SessionLifetime: 8 * time.Hour}
}

// configured: some store key is set, so the store is meant to be used.
func (s Store) configured() bool {
	return s.Path != "" || s.DSN != "" || s.HashKey != "" || len(s.EncryptionKeys) > 0
}

// Enabled: the portal listens.
func (p Portal) Enabled() bool { return p.Address != "" }

// PortalDomain is the XMPP domain the portal's app passwords are for.
func (c *Config) PortalDomain() string {
	if c.Portal.Domain != "" || len(c.Domains) == 0 {
		return c.Portal.Domain
	}
	return c.Domains[0].Name
}

func (c *Config) validatePortal(bad func(string, string, ...any)) {
	p := c.Portal
	if !p.Enabled() {
		return
	}
	checkAddress(bad, "portal.address", p.Address)
	if p.PublicURL == "" {
		bad("portal.public_url", "required with portal.address: the URL browsers use, e.g. https://xmpp.example.org/account")
	} else if u, err := url.Parse(p.PublicURL); err == nil && (u.RawQuery != "" || u.Fragment != "") {
		bad("portal.public_url", "must not carry a query or fragment")
	} else {
		checkURL(bad, "portal.public_url", p.PublicURL)
	}
	if (p.CertFile == "") != (p.KeyFile == "") {
		bad("portal.cert_file", "cert_file and key_file go together")
	}
	if d := c.PortalDomain(); d != "" && !c.hasDomain(d) {
		bad("portal.domain", "%q is not one of domains[].name", d)
	}
	if p.SessionIdle <= 0 || p.SessionLifetime < p.SessionIdle {
		bad("portal.session_idle", "must be positive and at most session_lifetime")
	}
	if c.OAuth.Issuer == "" && c.OAuth.DiscoveryURL == "" {
		bad("portal", "sign-in needs oauth.issuer or oauth.discovery_url (the authorization endpoint is discovered)")
	}
	if c.OAuth.ClientID == "" {
		bad("oauth.client_id", "required for the portal's sign-in")
	}
	c.validateStore(bad)
}

func (c *Config) hasDomain(name string) bool {
	for _, d := range c.Domains {
		if strings.EqualFold(d.Name, name) {
			return true
		}
	}
	return false
}

func (c *Config) validateStore(bad func(string, string, ...any)) {
	s := c.Store
	switch s.Driver {
	case "sqlite":
		if s.Path == "" {
			bad("store.path", "required for the sqlite store")
		}
	case "postgres":
		if s.DSN == "" {
			bad("store.dsn", "required for the postgres store (or dsn_file)")
		}
	default:
		bad("store.driver", "%q is not one of sqlite, postgres", s.Driver)
	}
	if k, err := DecodeKey(s.HashKey); err != nil || len(k) < 32 {
		bad("store.hash_key", "required: base64 of at least 32 random bytes (openssl rand -base64 32), or hash_key_file")
	}
	if len(s.EncryptionKeys) == 0 {
		bad("store.encryption_keys", "at least one key is required: {id, key} with key = base64 of 32 random bytes")
	}
	seen := map[string]bool{}
	for i, k := range s.EncryptionKeys {
		key := fmt.Sprintf("store.encryption_keys[%d]", i)
		if k.ID == "" || seen[k.ID] {
			bad(key+".id", "required and unique")
		}
		seen[k.ID] = true
		if b, err := DecodeKey(k.Key); err != nil || len(b) != 32 {
			bad(key+".key", "must be base64 of exactly 32 bytes (openssl rand -base64 32), or key_file")
		}
	}
}

// DecodeKey reads a key written in standard or URL-safe base64, padded or not.
func DecodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawURLEncoding.DecodeString(s)
}

func (c *Config) readStoreSecrets() error {
	s := &c.Store
	if err := readSecret(&s.DSN, s.DSNFile, "store.dsn"); err != nil {
		return err
	}
	if err := readSecret(&s.HashKey, s.HashKeyFile, "store.hash_key"); err != nil {
		return err
	}
	for i := range s.EncryptionKeys {
		k := &s.EncryptionKeys[i]
		if err := readSecret(&k.Key, k.KeyFile, fmt.Sprintf("store.encryption_keys[%d].key", i)); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) resolvePortalPaths(abs func(*string)) {
	abs(&c.Portal.CertFile)
	abs(&c.Portal.KeyFile)
	if c.Store.Driver == "sqlite" {
		abs(&c.Store.Path)
	}
	abs(&c.Store.DSNFile)
	abs(&c.Store.HashKeyFile)
	for i := range c.Store.EncryptionKeys {
		abs(&c.Store.EncryptionKeys[i].KeyFile)
	}
}
