package app

import (
	"reflect"
	"testing"

	"github.com/rs/zerolog"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/config"
)

// Every proxy limit is set from the config: a field left out would silently run
// on the proxy package's default instead of the operator's value.
func TestEveryLimitIsWired(t *testing.T) {
	l := config.Default().Limits
	l.MaxConnections, l.MaxPreAuthConnections, l.MaxPreAuthPerIP = 11, 12, 13
	l.ConnectionRatePerIP, l.ConnectionBurstPerIP = 14, 15
	l.FreeFailedLogins, l.MaxConcurrentPasswordGrants, l.IPv6PrefixBits = 16, 17, 48
	got := reflect.ValueOf(proxyLimits(l, zerolog.Nop()))
	for i := range got.NumField() {
		if got.Field(i).IsZero() {
			t.Errorf("proxy.Limits.%s is not set from the config", got.Type().Field(i).Name)
		}
	}
	p := proxyLimits(l, zerolog.Nop())
	if p.MaxPreAuth != 12 || p.MaxPreAuthPerClient != 13 || p.MaxConcurrentPasswordGrants != 17 || p.IPv6PrefixBits != 48 {
		t.Errorf("proxy limits = %+v", p)
	}
}
