package config

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// The example documents every limit with its default value.
func TestExampleHasLimitDefaults(t *testing.T) {
	path, _ := testenv.ExampleConfig(t, "../../configs")
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Limits, Default().Limits; got != want {
		t.Errorf("example limits = %+v, want the defaults %+v", got, want)
	}
	raw, err := os.ReadFile("../../configs/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	example := string(raw)
	for _, key := range []string{"max_pre_auth_connections:", "max_pre_auth_per_ip:", "max_concurrent_password_grants:", "ipv6_prefix_bits:", "relay_write_timeout:"} {
		if !strings.Contains(example, "\n  "+key) {
			t.Errorf("configs/example.yaml does not set limits.%s", strings.TrimSuffix(key, ":"))
		}
	}
}

func TestClientLimitDefaultsAndChecks(t *testing.T) {
	cfg, err := Load(write(t, minimal))
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Limits
	if l.MaxPreAuthConnections != 1000 || l.MaxPreAuthPerIP != 32 || l.MaxConcurrentPasswordGrants != 100 ||
		l.IPv6PrefixBits != 64 || l.RelayWriteTimeout != 30*time.Second {
		t.Errorf("limit defaults not applied: %+v", l)
	}
	for body, key := range map[string]string{
		"limits: {max_pre_auth_connections: 0}":       "limits.max_pre_auth_connections",
		"limits: {max_pre_auth_per_ip: 0}":            "limits.max_pre_auth_per_ip",
		"limits: {max_concurrent_password_grants: 0}": "limits.max_concurrent_password_grants",
		"limits: {ipv6_prefix_bits: 129}":             "limits.ipv6_prefix_bits",
		"limits: {ipv6_prefix_bits: 16}":              "limits.ipv6_prefix_bits",
		"limits: {relay_write_timeout: 0s}":           "limits.relay_write_timeout",
	} {
		if _, err := Load(write(t, minimal+body+"\n")); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: err = %v, want one naming %s", body, err, key)
		}
	}
}
