package app_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
	ecYAML := strings.Replace(plainYAML, "certificates: [", fmt.Sprintf("certificates: [{cert_file: %q, key_file: %q}, ", ecCert, ecKey), 1)
	ecUp := startBenchStackYAML(b, env, env.Prosody, ecYAML)
	// The same without the upstream pre-connect: what it buys, in the same run.
	noPre := func(yaml string) string {
		return strings.Replace(yaml, "tls: none", "tls: none\n      preconnect: false", 1)
	}
	plainNoPre := startBenchStackYAML(b, env, env.Prosody, noPre(plainYAML))
	ecNoPre := startBenchStackYAML(b, env, env.Prosody, noPre(ecYAML))
	ecPEM, err := os.ReadFile(ecCert)
	if err != nil {
		b.Fatal(err)
	}
	ecUp.roots.AppendCertsFromPEM(ecPEM)
	ecNoPre.roots.AppendCertsFromPEM(ecPEM)
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
		name      string
		a, b      loginOpts
		hp        *testenv.HAProxy // nil: the proxy, in this process
		loginOnly bool             // a variant whose relay is the same: logins only
	}{
		{"haproxy", haproxyOpts(hp, "benchhpa"), haproxyOpts(hp, "benchhpb"), hp, false},
		{"proxy-upstream-tls", proxyOpts(tlsUp, "alice"), proxyOpts(tlsUp, "bob"), nil, false},
		{"proxy-upstream-plain", proxyOpts(plainUp, "alice"), proxyOpts(plainUp, "bob"), nil, false},
		{"proxy-upstream-plain-nopreconnect", proxyOpts(plainNoPre, "alice"), proxyOpts(plainNoPre, "bob"), nil, true},
		{"haproxy-ecdsa", haproxyOpts(hpEC, "benchhpa"), haproxyOpts(hpEC, "benchhpb"), hpEC, false},
		{"proxy-upstream-plain-ecdsa", proxyOpts(ecUp, "alice"), proxyOpts(ecUp, "bob"), nil, false},
		{"proxy-upstream-plain-ecdsa-nopreconnect", proxyOpts(ecNoPre, "alice"), proxyOpts(ecNoPre, "bob"), nil, true},
		// HAProxy's OpenSSL 3.0 has no post-quantum key exchange, so with Go's
		// default ClientHello only the proxy pays for ML-KEM (both ends here):
		// the same pair with a classic X25519 hello, as most XMPP clients send.
		{"haproxy-x25519hello", x25519(haproxyOpts(hp, "benchhpa")), x25519(haproxyOpts(hp, "benchhpb")), hp, true},
		{"proxy-upstream-plain-x25519hello", x25519(proxyOpts(plainUp, "alice")), x25519(proxyOpts(plainUp, "bob")), nil, true},
	}

	latency := map[string]time.Duration{}
	samples := map[string]durations{}
	for _, f := range fronts {
		if f.loginOnly {
			continue
		}
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
			if !f.loginOnly {
				names = append(names, f.name)
			}
		}
		if err := plotLatency(filepath.Join(dir, "latency-percentiles.png"), names, samples); err != nil {
			b.Fatal(err)
		}
	}

	// Logins at concurrency 16. The fronts take turns round by round (a round is
	// 16 logins at once, then waiting for all of them), so that load from other
	// work on the machine falls on all of them alike and the ratios hold.
	rate, medRate := map[string]float64{}, map[string]float64{}
	b.Run("logins-c16", func(b *testing.B) {
		const workers = 16
		ctx := context.Background()
		type tally struct {
			logins int64
			took   time.Duration
			rounds durations
			phases [5]durations // login, handshake, to the mechanisms, sasl, restart+bind
			cpu    []time.Duration
			pids   []int
			names  []string
		}
		tallies := make([]tally, len(fronts))
		for i, f := range fronts {
			// CPU in every process on the box: the client (and the proxy,
			// which runs in this process), Prosody, HAProxy.
			t := &tallies[i]
			t.names, t.pids = []string{"bench", "prosody"}, []int{os.Getpid(), env.Prosody.Pid()}
			if f.hp != nil {
				t.names, t.pids = append(t.names, "haproxy"), append(t.pids, f.hp.Pid())
			}
			t.cpu = make([]time.Duration, len(t.pids))
			o := f.a
			o.resource = "warm"
			c, _, err := benchLogin(ctx, o)
			if err != nil {
				b.Fatalf("%s: %v", f.name, err)
			}
			_ = c.send("</stream:stream>")
			c.conn.Close()
		}
		for round := 0; b.Loop(); round++ {
			for k := range fronts {
				i := (round + k) % len(fronts)
				f, t := fronts[i], &tallies[i]
				var mu sync.Mutex
				var wg sync.WaitGroup
				var failed error
				before := make([]time.Duration, len(t.pids))
				for j, pid := range t.pids {
					before[j], _ = procCPU(pid)
				}
				t0 := time.Now()
				for w := range workers {
					wg.Go(func() {
						o := f.a
						o.resource = fmt.Sprintf("r%d-w%d", round, w)
						c, ph, err := benchLogin(ctx, o)
						mu.Lock()
						defer mu.Unlock()
						if err != nil {
							failed = err
							return
						}
						_ = c.send("</stream:stream>")
						c.conn.Close()
						t.logins++
						for p, d := range []time.Duration{ph.total(), ph.handshake, ph.features, ph.sasl, ph.restart + ph.bind} {
							t.phases[p] = append(t.phases[p], d)
						}
					})
				}
				wg.Wait()
				t.took += time.Since(t0)
				t.rounds = append(t.rounds, time.Since(t0))
				for j, pid := range t.pids {
					after, _ := procCPU(pid)
					t.cpu[j] += after - before[j]
				}
				if failed != nil {
					b.Fatalf("%s: %v", f.name, failed)
				}
			}
		}
		// Also from the median round: a burst of other work on a shared
		// machine stretches a few rounds of one front, not its median.
		for i, f := range fronts {
			rate[f.name] = float64(tallies[i].logins) / tallies[i].took.Seconds()
			medRate[f.name] = workers / tallies[i].rounds.percentile(0.5).Seconds()
		}
		fmt.Printf("\nVsHAProxy logins at concurrency 16, %d rounds of %d per front, interleaved:\n", b.N, workers)
		fmt.Printf("%-40s %9s %10s %9s %9s %9s %9s %9s %9s %9s   %s\n", "front", "logins/s", "x-haproxy", "median-rd", "x-haproxy",
			"login-p50", "handshake", "features", "sasl", "rest+bind", "CPU ms/login (all: bench, prosody[, haproxy])")
		for i, f := range fronts {
			t := &tallies[i]
			ratio, medRatio := "-", "-"
			if base := rate[baselineOf(f.name)]; base > 0 && f.hp == nil {
				ratio = fmt.Sprintf("%.3f", rate[f.name]/base)
				medRatio = fmt.Sprintf("%.3f", medRate[f.name]/medRate[baselineOf(f.name)])
				b.ReportMetric(rate[f.name]/base, "x-haproxy-"+f.name)
			}
			b.ReportMetric(rate[f.name], "logins/s-"+f.name)
			var all float64
			var parts []string
			for j := range t.cpu {
				ms := float64(t.cpu[j]) / float64(time.Millisecond) / float64(t.logins)
				all += ms
				parts = append(parts, fmt.Sprintf("%.2f", ms))
			}
			p50 := func(k int) float64 { return float64(t.phases[k].percentile(0.5)) / 1e6 }
			fmt.Printf("%-40s %9.1f %10s %9.1f %9s %9.2f %9.2f %9.2f %9.2f %9.2f   %.2f: %s\n", f.name, rate[f.name], ratio, medRate[f.name], medRatio,
				p50(0), p50(1), p50(2), p50(3), p50(4), all, strings.Join(parts, ", "))
		}
	})
	// The ratios once more, together, so a long run's answer is easy to find.
	fmt.Println()
	for _, f := range fronts {
		base := baselineOf(f.name)
		if f.hp != nil {
			continue
		}
		line := ""
		if latency[base] > 0 && latency[f.name] > 0 {
			line += fmt.Sprintf(" latency p50 %.2fx (%v vs %v)", float64(latency[f.name])/float64(latency[base]), latency[f.name], latency[base])
		}
		if rate[base] > 0 && rate[f.name] > 0 {
			line += fmt.Sprintf(" logins/s c=16 %.2fx (%.1f vs %.1f; from the median round %.2fx)", rate[f.name]/rate[base], rate[f.name], rate[base], medRate[f.name]/medRate[base])
		}
		if line != "" {
			fmt.Println("VsHAProxy ratio " + f.name + ":" + line)
		}
	}
}

// x25519 has o's client offer the classic X25519 key exchange only.
func x25519(o loginOpts) loginOpts {
	o.tls = o.tls.Clone()
	o.tls.CurvePreferences = []tls.CurveID{tls.X25519}
	return o
}

// baselineOf is the HAProxy case with the same kind of certificate and hello.
func baselineOf(name string) string {
	switch {
	case strings.Contains(name, "-ecdsa"):
		return "haproxy-ecdsa"
	case strings.Contains(name, "-x25519hello"):
		return "haproxy-x25519hello"
	}
	return "haproxy"
}
