package app_test

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// BenchmarkAppPasswordLogin compares, in one run and one proxy, PLAIN logins
// with an app password (checked locally) and with the IdP password (one
// password grant each): p50 at concurrency 1, logins/s at concurrency 16, and
// IdP token requests per login as the proxy's metrics count them.
func BenchmarkAppPasswordLogin(b *testing.B) {
	env := benchEnv(b)
	s := startBenchStack(b, env, benchLimits+storeConfigTB(b, "15m"))
	_, appPW := s.newAppPassword(b, "alice", env.IdP.Users["alice"], "bench")
	cases := []struct{ name, secret string }{
		{"password-grant", env.IdP.Users["alice"]},
		{"app-password", appPW},
	}
	p50s := map[string]time.Duration{}
	for _, c := range cases {
		o := loginOpts{addr: s.starttls, tls: s.tlsConfig(), domain: env.Prosody.Domain, mech: "PLAIN", user: "alice", secret: c.secret}
		ctx := context.Background()
		one := func(res string) error {
			o := o
			o.resource = res
			cl, _, err := benchLogin(ctx, o)
			if err == nil {
				_ = cl.send("</stream:stream>")
				cl.conn.Close()
			}
			return err
		}
		b.Run(c.name+"/c1", func(b *testing.B) {
			if err := one("warm"); err != nil {
				b.Fatal(err)
			}
			before := s.tokenRequests(b)
			var total durations
			n := 0
			for i := 0; b.Loop(); i++ {
				start := time.Now()
				if err := one("r" + strconv.Itoa(i)); err != nil {
					b.Fatal(err)
				}
				total = append(total, time.Since(start))
				n++
			}
			total.report(b, "", "ms")
			p50s[c.name] = total.percentile(0.5)
			b.ReportMetric((s.tokenRequests(b)-before)/float64(max(n, 1)), "idp-requests/login")
			if g, a := p50s["password-grant"], p50s["app-password"]; g > 0 && a > 0 && c.name == "app-password" {
				b.ReportMetric(float64(a)/float64(g), "p50-x-password-grant")
			}
		})
		b.Run(c.name+"/c16", func(b *testing.B) {
			const workers = 16
			before := s.tokenRequests(b)
			n, rate := loginRate(b, workers, one)
			b.ReportMetric(rate, "logins/s")
			b.ReportMetric((s.tokenRequests(b)-before)/float64(max(n, 1)), "idp-requests/login")
		})
	}
}
