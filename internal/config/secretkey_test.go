package config

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

func TestCheckSecretKey(t *testing.T) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	for name, key := range map[string]string{
		"openssl rand -base64 32": base64.StdEncoding.EncodeToString(raw),
		"openssl rand -hex 32":    hex.EncodeToString(raw),
		"32 raw random bytes":     string(raw),
	} {
		if err := checkSecretKey(key); err != nil {
			t.Errorf("%s refused: %v", name, err)
		}
	}
	for name, key := range map[string]string{
		"the old example":        "change-me-to-32-random-characters",
		"the kubernetes example": "change-me-to-at-least-32-random-characters",
		"the old compose key":    "compose-demo-secret-key-0123456789abcdef",
		"short":                  base64.StdEncoding.EncodeToString(raw[:16]),
		"repeated":               strings.Repeat("ab", 32),
		"one character":          strings.Repeat("x", 64),
		"a counting pattern":     "0123456701234567012345670123456701234567",
	} {
		err := checkSecretKey(key)
		if err == nil {
			t.Errorf("%s accepted", name)
			continue
		}
		if strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "openssl rand") {
			t.Errorf("%s: message %q echoes the key or says not how to make one", name, err)
		}
	}
}

// TestPublishedKeysRefused: every key the repository publishes (examples,
// Kubernetes, compose) is refused, so nobody can deploy with one.
func TestPublishedKeysRefused(t *testing.T) {
	for _, path := range []string{"../../configs/kubernetes/secret.example.yaml"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(b)) {
			k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
			if !ok || k != "secret-key" {
				continue
			}
			v = strings.Trim(strings.TrimSpace(v), `"`)
			if checkSecretKey(v) == nil {
				t.Errorf("%s: published secret-key %q is accepted", path, v)
			}
		}
	}
}
