package app_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// BenchmarkScaleSessions logs idle sessions in through a proxy in a child
// process, in steps up to APP_BENCH_SCALE (default 2000; docs/benchmarks.md
// shows a 10,000 run), once with a TLS upstream leg and once with plain TCP to
// Prosody on loopback. At each step it reports the proxy's memory per session
// (heap and stacks after GC, and RSS) and how long the step's logins took.
// With APP_BENCH_PLOT=dir it also draws memory per session against sessions
// into dir/scale-memory.png. Run it with -benchtime 1x.
func BenchmarkScaleSessions(b *testing.B) {
	limit := 2000
	if v, err := strconv.Atoi(os.Getenv("APP_BENCH_SCALE")); err == nil && v > 0 {
		limit = v
	}
	steps := scaleSteps(limit)
	// APP_BENCH_REPLICAS > 1 spreads the sessions over that many proxy
	// processes: one process needs two descriptors per session, so 10,000
	// sessions do not fit a hard open-file limit of 20,000.
	replicas := 1
	if v, err := strconv.Atoi(os.Getenv("APP_BENCH_REPLICAS")); err == nil && v > 0 {
		replicas = v
	}
	env := benchEnv(b)
	token := idpToken(b, env, "alice")
	p := prosodyStack(b, env)
	series := map[string]plotter.XYs{}
	for _, leg := range []string{"tls", "plain"} {
		b.Run("upstream="+leg, func(b *testing.B) {
			yaml := env.ProxyConfig(listenAny, benchLimits)
			if leg == "plain" {
				yaml = strings.Replace(yaml, "tls: starttls", "tls: none", 1)
			}
			path := filepath.Join(b.TempDir(), "proxy.yaml")
			if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
				b.Fatal(err)
			}
			for i := 0; i < b.N; i++ {
				children := make([]*benchChild, replicas)
				for r := range children {
					children[r] = startBenchChild(b, path)
				}
				o := loginOpts{direct: true, tls: p.tlsConfig(), domain: env.Prosody.Domain, mech: "OAUTHBEARER", user: "alice", secret: token}
				var held sessions
				// open spreads n new sessions over the replicas, as a load balancer would.
				open := func(prefix string, n int) error {
					for r, c := range children {
						o.addr = c.direct
						if err := held.open(o, fmt.Sprintf("%s-r%d-", prefix, r), n/replicas+boolInt(r < n%replicas)); err != nil {
							return err
						}
					}
					return nil
				}
				if err := open(fmt.Sprintf("%s%d-w", leg, i), 20*replicas); err != nil {
					b.Fatal(err)
				}
				time.Sleep(idleSettle)
				m0 := sumMem(b, children)
				have := 0
				var xy plotter.XYs
				for _, n := range steps {
					start := time.Now()
					if err := open(fmt.Sprintf("%s%d-s%d", leg, i, n), n-have); err != nil {
						b.Fatal(err)
					}
					took := time.Since(start)
					have = n
					time.Sleep(idleSettle)
					m := sumMem(b, children)
					per := float64(m.heap+m.stack-m0.heap-m0.stack) / float64(n)
					b.ReportMetric(per, fmt.Sprintf("B/session@%d", n))
					b.ReportMetric(float64(m.rss-m0.rss)/float64(n), fmt.Sprintf("RSS-B/session@%d", n))
					b.ReportMetric(took.Seconds(), fmt.Sprintf("login-s@%d", n))
					xy = append(xy, plotter.XY{X: float64(n), Y: per / 1024})
				}
				held.close()
				for _, c := range children {
					c.stop()
				}
				series[leg] = xy
			}
		})
	}
	if dir := os.Getenv("APP_BENCH_PLOT"); dir != "" && len(series) == 2 {
		if err := plotScale(filepath.Join(dir, "scale-memory.png"), series); err != nil {
			b.Fatal(err)
		}
	}
}

// sumMem adds up the replicas' memory.
func sumMem(b *testing.B, children []*benchChild) childMem {
	var sum childMem
	for _, c := range children {
		m := c.mem(b)
		sum.heap += m.heap
		sum.stack += m.stack
		sum.rss += m.rss
	}
	return sum
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

// scaleSteps are the session counts measured on the way to max.
func scaleSteps(max int) []int {
	var out []int
	for _, f := range []float64{0.1, 0.25, 0.5, 1} {
		if n := int(float64(max) * f); n > 0 && (len(out) == 0 || n > out[len(out)-1]) {
			out = append(out, n)
		}
	}
	return out
}

func plotScale(path string, series map[string]plotter.XYs) error {
	p := plot.New()
	p.Title.Text = "Proxy memory per idle session (heap + stacks after GC)"
	p.X.Label.Text = "sessions"
	p.Y.Label.Text = "KiB per session"
	p.Y.Min = 0
	if err := plotutil.AddLinePoints(p, "TLS to Prosody", series["tls"], "plain TCP to Prosody", series["plain"]); err != nil {
		return err
	}
	return p.Save(16*vg.Centimeter, 10*vg.Centimeter, path)
}
