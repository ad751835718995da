package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// BenchmarkVsHAProxy holds the proxy against Debian's HAProxy terminating
// Direct TLS in front of the same stock Prosody, in one run: one-way message
// latency and logins per second at concurrency 16. HAProxy's clients log in to
// Prosody themselves (SCRAM-SHA-1); the proxy's with OAUTHBEARER (warm), once
// with TLS to Prosody (upstream starttls) and once with plain TCP on loopback
// (upstream none, as HAProxy's backend). Ratios are proxy / HAProxy.
func BenchmarkVsHAProxy(b *testing.B) {
	env := benchEnv(b)
	hp, err := env.StartHAProxy(context.Background(), "", "")
	if err != nil {
		b.Skip(err) // a baseline, not a test: only `make bench` needs haproxy
	}
	defer hp.Close()
	ecCert, ecKey, err := testenv.WriteECDSACert(b.TempDir(), env.Prosody.Domain)
	if err != nil {
		b.Fatal(err)
	}
	hpEC, err := env.StartHAProxy(context.Background(), ecCert, ecKey)
	if err != nil {
		b.Fatal(err)
	}
	defer hpEC.Close()
	tlsUp := startBenchStack(b, env, benchLimits)
	plainYAML := strings.Replace(env.ProxyConfig(listenAny, benchLimits), "tls: starttls", "tls: none", 1)
	plainUp := startBenchStackYAML(b, env, env.Prosody, plainYAML)
	ecUp := startBenchStackYAML(b, env, env.Prosody, strings.Replace(plainYAML, "certificates: [", fmt.Sprintf("certificates: [{cert_file: %q, key_file: %q}, ", ecCert, ecKey), 1))
	ecPEM, err := os.ReadFile(ecCert)
	if err != nil {
		b.Fatal(err)
	}
	ecUp.roots.AppendCertsFromPEM(ecPEM)
	p := prosodyStack(b, env)
	ecRoots := p.tlsConfig()
	ecRoots.RootCAs = ecUp.roots
	domain := env.Prosody.Domain
	for _, u := range []string{"benchhpa", "benchhpb"} {
		prosodyUser(b, env, u)
	}
	haproxyOpts := func(h *testenv.HAProxy, user string) loginOpts {
		cfg := p.tlsConfig()
		if h == hpEC {
			cfg = ecRoots
		}
		return loginOpts{addr: h.DirectTLSAddr, direct: true, tls: cfg, domain: domain, mech: "SCRAM-SHA-1",
			user: user, scram: scramClient(b, user, benchDirectPassword)}
	}
	proxyOpts := func(s *stack, user string) loginOpts {
		return loginOpts{addr: s.direct, direct: true, tls: s.tlsConfig(), domain: domain, mech: "OAUTHBEARER",
			user: user, secret: idpToken(b, env, user)}
	}
	fronts := []struct {
		name string
		a, b loginOpts
	}{
		{"haproxy", haproxyOpts(hp, "benchhpa"), haproxyOpts(hp, "benchhpb")},
		{"proxy-upstream-tls", proxyOpts(tlsUp, "alice"), proxyOpts(tlsUp, "bob")},
		{"proxy-upstream-plain", proxyOpts(plainUp, "alice"), proxyOpts(plainUp, "bob")},
		{"haproxy-ecdsa", haproxyOpts(hpEC, "benchhpa"), haproxyOpts(hpEC, "benchhpb")},
		{"proxy-upstream-plain-ecdsa", proxyOpts(ecUp, "alice"), proxyOpts(ecUp, "bob")},
	}

	latency := map[string]time.Duration{}
	samples := map[string]durations{}
	for _, f := range fronts {
		b.Run("latency/"+f.name, func(b *testing.B) {
			lat := measureLatency(b, context.Background(), f.a, f.b)
			samples[f.name] = lat
			lat.report(b, "", "us")
			latency[f.name] = lat.percentile(0.5)
			if base := latency[baselineOf(f.name)]; base > 0 && !strings.HasPrefix(f.name, "haproxy") {
				b.ReportMetric(float64(latency[f.name])/float64(base), "p50-x-haproxy")
			}
		})
	}

	// APP_BENCH_PLOT=dir draws the latency percentiles into dir/latency-percentiles.png.
	if dir := os.Getenv("APP_BENCH_PLOT"); dir != "" {
		var names []string
		for _, f := range fronts {
			names = append(names, f.name)
		}
		if err := plotLatency(filepath.Join(dir, "latency-percentiles.png"), names, samples); err != nil {
			b.Fatal(err)
		}
	}

	rate := map[string]float64{}
	for _, f := range fronts {
		b.Run("logins-c16/"+f.name, func(b *testing.B) {
			const workers = 16
			ctx := context.Background()
			one := func(res string) error {
				o := f.a
				o.resource = res
				c, _, err := benchLogin(ctx, o)
				if err == nil {
					_ = c.send("</stream:stream>")
					c.conn.Close()
				}
				return err
			}
			if err := one("warm"); err != nil {
				b.Fatal(err)
			}
			_, rate[f.name] = loginRate(b, workers, one)
			b.ReportMetric(rate[f.name], "logins/s")
			if base := rate[baselineOf(f.name)]; base > 0 && !strings.HasPrefix(f.name, "haproxy") {
				b.ReportMetric(rate[f.name]/base, "x-haproxy")
			}
		})
	}
}

// baselineOf is the HAProxy case with the same kind of certificate.
func baselineOf(name string) string {
	if strings.HasSuffix(name, "-ecdsa") {
		return "haproxy-ecdsa"
	}
	return "haproxy"
}
