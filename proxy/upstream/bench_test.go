package upstream

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// benchVariants are the client behaviours the benchmarks compare: "naive" sends
// one thing at a time, makes a full TLS handshake and runs PBKDF2 on every login;
// "fast" pipelines, resumes TLS and caches SCRAM keys; "+quickack" adds the
// TCP_QUICKACK cure (the default Dialer is fast+quickack).
var benchVariants = []struct {
	name            string
	naive, quickack bool
}{
	{"naive", true, false},
	{"naive+quickack", true, true},
	{"fast", false, false},
	{"fast+quickack", false, true},
}

// benchServers runs f per upstream server and TLS mode, in one run.
func benchServers(b *testing.B, f func(b *testing.B, srv testenv.Server, mode string)) {
	for _, name := range testenv.ServerNames {
		for _, mode := range []string{TLSStartTLS, TLSDirect} {
			b.Run(name+"/"+mode, func(b *testing.B) { f(b, testenv.RequireServer(b, name), mode) })
		}
	}
}

// BenchmarkUpstreamLogin measures one managed login at a time (dial, TLS, SCRAM,
// up to <success/>) to the real, stock Prosody (Nagle on) and ejabberd. The
// account exists beforehand, so no provisioning is timed. p50-ms, p90-ms and
// p99-ms are percentiles of the single logins.
func BenchmarkUpstreamLogin(b *testing.B) {
	benchServers(b, func(b *testing.B, srv testenv.Server, mode string) {
		for _, v := range benchVariants {
			b.Run(v.name, func(b *testing.B) {
				d, _ := newDialer(b, serverConfig(b, srv, mode))
				d.naive, d.noQuickAck = v.naive, !v.quickack
				user := newUser("bench")
				s, err := d.Login(b.Context(), Credentials{Username: user}) // provisions
				if err != nil {
					b.Fatal(err)
				}
				_ = s.Conn.Close()
				times := make([]time.Duration, 0, b.N)
				b.ResetTimer()
				for b.Loop() {
					t0 := time.Now()
					s, err := d.Login(b.Context(), Credentials{Username: user})
					if err != nil {
						b.Fatal(err)
					}
					times = append(times, time.Since(t0))
					_ = s.Conn.Close()
				}
				b.StopTimer()
				reportPercentiles(b, times)
			})
		}
	})
}

// BenchmarkUpstreamLoginParallel is the login burst: eight logins at a time (of
// eight users), so Prosody's event loop interleaves connections and its writes
// split, which is where Nagle bites.
func BenchmarkUpstreamLoginParallel(b *testing.B) {
	benchServers(b, func(b *testing.B, srv testenv.Server, mode string) {
		for _, v := range benchVariants {
			b.Run(v.name, func(b *testing.B) {
				d, _ := newDialer(b, serverConfig(b, srv, mode))
				d.naive, d.noQuickAck = v.naive, !v.quickack
				users := make(chan string, 8)
				for range 8 {
					u := newUser("pbench")
					s, err := d.Login(b.Context(), Credentials{Username: u})
					if err != nil {
						b.Fatal(err)
					}
					_ = s.Conn.Close()
					users <- u
				}
				var mu sync.Mutex
				var times []time.Duration
				b.SetParallelism(4) // 4 x GOMAXPROCS(2) = 8 goroutines
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					u := <-users
					for pb.Next() {
						t0 := time.Now()
						s, err := d.Login(b.Context(), Credentials{Username: u})
						if err != nil {
							b.Error(err)
							return
						}
						el := time.Since(t0)
						_ = s.Conn.Close()
						mu.Lock()
						times = append(times, el)
						mu.Unlock()
					}
				})
				b.StopTimer()
				reportPercentiles(b, times)
			})
		}
	})
}

func reportPercentiles(b *testing.B, times []time.Duration) {
	if len(times) == 0 {
		return
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(times[len(times)*9/10])/1e6, "p90-ms")
	b.ReportMetric(float64(times[len(times)*99/100])/1e6, "p99-ms")
}
