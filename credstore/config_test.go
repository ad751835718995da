package credstore

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// Open refuses a configuration it cannot run safely, saying what is wrong.
func TestOpenRefusesBadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credstore.db")
	good := Config{Path: path, HashKey: testHashKey, EncryptionKeys: []EncryptionKey{keyA}}
	short := EncryptionKey{ID: "short", Key: bytes.Repeat([]byte{1}, 16)}
	for want, change := range map[string]func(*Config){
		"hash key shorter":   func(c *Config) { c.HashKey = testHashKey[:16] },
		"no encryption key":  func(c *Config) { c.EncryptionKeys = nil },
		"has no id":          func(c *Config) { c.EncryptionKeys = []EncryptionKey{{Key: keyA.Key}} },
		"configured twice":   func(c *Config) { c.EncryptionKeys = []EncryptionKey{keyA, keyA} },
		"want 32 bytes":      func(c *Config) { c.EncryptionKeys = []EncryptionKey{keyA, short} },
		"unknown driver":     func(c *Config) { c.Driver = "mysql" },
		"no path":            func(c *Config) { c.Path = "" },
		"without '?' or '#'": func(c *Config) { c.Path = ":memory:" },
		"no dsn":             func(c *Config) { c.Driver = DriverPostgres },
		"dsn does not parse": func(c *Config) { c.Driver, c.DSN = DriverPostgres, "postgres://h:notaport/db" },
	} {
		cfg := good
		change(&cfg)
		s, err := Open(t.Context(), cfg)
		if err == nil {
			s.Close()
			t.Errorf("%s: Open succeeded", want)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open: %v, want it to say %q", err, want)
		}
	}
	s, err := Open(t.Context(), good)
	if err != nil {
		t.Fatalf("the good config: %v", err)
	}
	s.Close()
}
