package app_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/proxy/upstream"
)

// The end-to-end benchmarks compare, in one run, a client going straight to the
// stock Prosody (Nagle on) with the same client going through the proxy in front of
// it, and the same for ejabberd (cases named direct-ejabberd/ and proxy-ejabberd/). Figures and their reading are in docs/benchmarks.md. Nothing here asserts
// timing; -bench runs them:
//
//	go test -run '^$' -bench . -benchtime 3s ./internal/app

// loginCase is one way of logging in.
type loginCase struct {
	name string
	o    loginOpts
}

func loginCases(b *testing.B) []loginCase {
	env := benchEnv(b)
	s := startBenchStack(b, env, benchLimits)
	p := prosodyStack(b, env)
	const direct = "benchlogin"
	prosodyUser(b, env, direct)
	sc := scramClient(b, direct, benchDirectPassword)
	alice := env.IdP.Users["alice"]
	token := idpToken(b, env, "alice")
	domain := env.Prosody.Domain
	ec := ecdsaBenchStack(b, env)
	return append([]loginCase{
		{"direct-prosody/starttls-scram", loginOpts{addr: p.starttls, tls: p.tlsConfig(), domain: domain, mech: "SCRAM-SHA-1", user: direct, scram: sc}},
		{"direct-prosody/starttls-scram+quickack", loginOpts{addr: p.starttls, tls: p.tlsConfig(), domain: domain, mech: "SCRAM-SHA-1", user: direct, scram: sc, quickAck: true}},
		{"direct-prosody/direct-tls-scram", loginOpts{addr: p.direct, direct: true, tls: p.tlsConfig(), domain: domain, mech: "SCRAM-SHA-1", user: direct, scram: sc}},
		{"direct-prosody/starttls-plain", loginOpts{addr: p.starttls, tls: p.tlsConfig(), domain: domain, mech: "PLAIN", user: direct, secret: benchDirectPassword}},
		{"direct-prosody/direct-tls-scram+quickack+resume", loginOpts{addr: p.direct, direct: true, tls: resumingTLS(p), domain: domain, mech: "SCRAM-SHA-1", user: direct, scram: sc, quickAck: true}},
		{"proxy/starttls-plain", loginOpts{addr: s.starttls, tls: s.tlsConfig(), domain: domain, mech: "PLAIN", user: "alice", secret: alice}},
		{"proxy/starttls-oauthbearer", loginOpts{addr: s.starttls, tls: s.tlsConfig(), domain: domain, mech: "OAUTHBEARER", user: "alice", secret: token}},
		{"proxy/direct-tls-oauthbearer", loginOpts{addr: s.direct, direct: true, tls: s.tlsConfig(), domain: domain, mech: "OAUTHBEARER", user: "alice", secret: token}},
		{"proxy/direct-tls-oauthbearer+resume", loginOpts{addr: s.direct, direct: true, tls: resumingTLS(s), domain: domain, mech: "OAUTHBEARER", user: "alice", secret: token}},
		{"proxy/direct-tls-oauthbearer+ecdsa", loginOpts{addr: ec.direct, direct: true, tls: ec.tlsConfig(), domain: domain, mech: "OAUTHBEARER", user: "alice", secret: token}},
		{"proxy/direct-tls-oauthbearer+ecdsa+resume", loginOpts{addr: ec.direct, direct: true, tls: resumingTLS(ec), domain: domain, mech: "OAUTHBEARER", user: "alice", secret: token}},
	}, ejabberdLoginCases(b, env, direct, token)...)
}

// resumingTLS is a client config that keeps TLS sessions (tickets) between logins.
func resumingTLS(s *stack) *tls.Config {
	c := s.tlsConfig()
	c.ClientSessionCache = tls.NewLRUClientSessionCache(8)
	return c
}

// ejabberdLoginCases are the same logins to and through ejabberd.
func ejabberdLoginCases(b *testing.B, env *testenv.Env, direct, token string) []loginCase {
	ej := testenv.RequireEjabberd(b)
	s := startBenchStackOn(b, env, ej, benchLimits)
	p := serverStack(b, env, ej)
	serverUser(b, ej, direct)
	sc := scramClient(b, direct, benchDirectPassword)
	domain := ej.Domain
	return []loginCase{
		{"direct-ejabberd/starttls-scram", loginOpts{addr: p.starttls, tls: p.tlsConfig(), domain: domain, mech: "SCRAM-SHA-1", user: direct, scram: sc}},
		{"direct-ejabberd/direct-tls-scram", loginOpts{addr: p.direct, direct: true, tls: p.tlsConfig(), domain: domain, mech: "SCRAM-SHA-1", user: direct, scram: sc}},
		// resumed-% shows whether ejabberd resumes TLS sessions (23.01: never).
		{"direct-ejabberd/direct-tls-scram+resume", loginOpts{addr: p.direct, direct: true, tls: resumingTLS(p), domain: domain, mech: "SCRAM-SHA-1", user: direct, scram: sc}},
		{"proxy-ejabberd/starttls-plain", loginOpts{addr: s.starttls, tls: s.tlsConfig(), domain: domain, mech: "PLAIN", user: "alice", secret: env.IdP.Users["alice"]}},
		{"proxy-ejabberd/starttls-oauthbearer", loginOpts{addr: s.starttls, tls: s.tlsConfig(), domain: domain, mech: "OAUTHBEARER", user: "alice", secret: token}},
		{"proxy-ejabberd/direct-tls-oauthbearer", loginOpts{addr: s.direct, direct: true, tls: s.tlsConfig(), domain: domain, mech: "OAUTHBEARER", user: "alice", secret: token}},
	}
}

// BenchmarkLogin times full logins (TCP, TLS, SASL, restart, bind) one at a time.
// Metrics: p50/p90/p99 of the whole login in ms, p50 of each client-side phase, and
// for the proxy cases the p50 ratio to direct-prosody/starttls-scram of this run
// (proxy-ejabberd: to direct-ejabberd/starttls-scram).
// TLS handshakes are full ones (no client session cache) except in the +resume cases.
func BenchmarkLogin(b *testing.B) {
	var baseline, cured time.Duration // p50 of direct-prosody/starttls-scram, and +quickack
	var ejBaseline time.Duration      // p50 of direct-ejabberd/starttls-scram
	for _, lc := range loginCases(b) {
		b.Run(lc.name, func(b *testing.B) {
			ctx := context.Background()
			o := lc.o
			if o.quickAck && !quickAckSupported {
				b.Skip("TCP_QUICKACK is Linux only")
			}
			// Warm up: provisioning on the first managed login, token cache, SCRAM key cache.
			for i := range 3 {
				o.resource = fmt.Sprintf("warm%d", i)
				c, _, err := benchLogin(ctx, o)
				if err != nil {
					b.Fatalf("%s: %v", lc.name, err)
				}
				c.conn.Close()
			}
			resumed := 0
			var total, handshakeT, featuresT, saslT, restartT, bindT durations
			for i := 0; b.Loop(); i++ {
				o.resource = "r" + strconv.Itoa(i)
				c, ph, err := benchLogin(ctx, o)
				if err != nil {
					b.Fatalf("%s: %v", lc.name, err)
				}
				_ = c.send("</stream:stream>")
				c.conn.Close()
				total = append(total, ph.total())
				if ph.resumed {
					resumed++
				}
				handshakeT, featuresT = append(handshakeT, ph.handshake), append(featuresT, ph.features)
				saslT = append(saslT, ph.sasl)
				restartT, bindT = append(restartT, ph.restart), append(bindT, ph.bind)
			}
			total.report(b, "", "ms")
			b.ReportMetric(100*float64(resumed)/float64(max(len(total), 1)), "resumed-%")
			b.ReportMetric(total.stalled(), "stalled-%")
			for _, ph := range []struct {
				name string
				d    durations
			}{{"handshake", handshakeT}, {"features", featuresT}, {"sasl", saslT}, {"restart", restartT}, {"bind", bindT}} {
				b.ReportMetric(float64(ph.d.percentile(0.5))/1e6, ph.name+"-p50-ms")
				b.ReportMetric(float64(ph.d.percentile(0.9))/1e6, ph.name+"-p90-ms")
			}
			p50 := total.percentile(0.5)
			switch {
			case lc.name == "direct-prosody/starttls-scram":
				baseline = p50
			case lc.name == "direct-prosody/starttls-scram+quickack":
				cured = p50
			case strings.HasPrefix(lc.name, "proxy/") && baseline > 0 && cured > 0:
				b.ReportMetric(float64(p50)/float64(baseline), "p50-x-direct")
				b.ReportMetric(float64(p50)/float64(cured), "p50-x-direct-quickack")
			case lc.name == "direct-ejabberd/starttls-scram":
				ejBaseline = p50
			case strings.HasPrefix(lc.name, "proxy-ejabberd/") && ejBaseline > 0:
				b.ReportMetric(float64(p50)/float64(ejBaseline), "p50-x-direct")
			}
		})
	}
}

// BenchmarkUpstreamPart times the part of a proxy login spent logging in to
// the upstream server (what the proxy's SASL phase waits for), per server: the
// same upstream.Dialer the proxy builds (STARTTLS, SCRAM-SHA-1, TLS resumption,
// SCRAM key cache, quick ACKs), up to the upstream's <success/>. Its own key and
// user, so the proxy's managed passwords are untouched.
func BenchmarkUpstreamPart(b *testing.B) {
	benchEnv(b)
	for _, name := range testenv.ServerNames {
		b.Run(name, func(b *testing.B) { benchUpstreamPart(b, testenv.RequireServer(b, name)) })
	}
}

func benchUpstreamPart(b *testing.B, srv testenv.Server) {
	up := srv.Info()
	d, err := upstream.New(upstream.Config{
		Domain: up.Domain, Address: up.C2SAddr, RootCAs: rootsOf(b, srv),
		SecretKey: []byte("bench-upstream-part-key-0123456789"), CreateAccounts: true,
		AdminJID: up.AdminJID, AdminPassword: up.AdminPassword,
	})
	if err != nil {
		b.Fatal(err)
	}
	creds := upstream.Credentials{Username: "benchupstream"}
	var lat durations
	for i := -3; i < 0 || b.Loop(); i++ { // three unmeasured logins first (provisioning)
		t0 := time.Now()
		sess, err := d.Login(b.Context(), creds)
		if err != nil {
			b.Fatal(err)
		}
		if i >= 0 {
			lat = append(lat, time.Since(t0))
		}
		sess.Conn.Close()
	}
	lat.report(b, "", "ms")
	b.ReportMetric(lat.stalled(), "stalled-%")
}

// BenchmarkMessageLatency times one-way message delivery A -> server -> B between
// two bound sessions of the same process (one clock), alternating direction so
// that every receiver's next send carries its ACK. ns/op is the mean one-way time.
func BenchmarkMessageLatency(b *testing.B) {
	env := benchEnv(b)
	for _, name := range testenv.ServerNames {
		srv := testenv.RequireServer(b, name)
		direct, proxied := "direct-"+name, "proxy-"+name
		if name == testenv.ServerProsody {
			proxied = "proxy" // the name docs/benchmarks.md has used since before ejabberd
		}
		benchMessageLatency(b, env, srv, direct, proxied)
	}
}

// benchMessageLatency measures straight to srv (side direct), then through a
// proxy in front of it (side proxied).
func benchMessageLatency(b *testing.B, env *testenv.Env, srv testenv.Server, direct, proxied string) {
	ctx := context.Background()
	p := serverStack(b, env, srv)
	s := startBenchStackOn(b, env, srv, benchLimits)
	domain := srv.Info().Domain
	var baseline time.Duration
	sides := []string{direct, proxied}
	if srv.Info().Name == testenv.ServerProsody {
		sides = append(sides, "proxy-websocket")
	}
	for _, side := range sides {
		b.Run(side, func(b *testing.B) {
			var a, bb loginOpts
			if side == direct {
				serverUser(b, srv, "benchmsga")
				serverUser(b, srv, "benchmsgb")
				a = loginOpts{addr: p.starttls, tls: p.tlsConfig(), domain: domain, mech: "SCRAM-SHA-1", user: "benchmsga", scram: scramClient(b, "benchmsga", benchDirectPassword)}
				bb = loginOpts{addr: p.starttls, tls: p.tlsConfig(), domain: domain, mech: "SCRAM-SHA-1", user: "benchmsgb", scram: scramClient(b, "benchmsgb", benchDirectPassword)}
			} else {
				a = loginOpts{addr: s.direct, direct: true, tls: s.tlsConfig(), domain: domain, mech: "OAUTHBEARER", user: "alice", secret: idpToken(b, env, "alice")}
				bb = loginOpts{addr: s.direct, direct: true, tls: s.tlsConfig(), domain: domain, mech: "OAUTHBEARER", user: "bob", secret: idpToken(b, env, "bob")}
				if side == "proxy-websocket" {
					a.addr, a.direct, a.ws = s.ws, false, true
					bb.addr, bb.direct, bb.ws = s.ws, false, true
				}
			}
			lat := measureLatency(b, ctx, a, bb)
			lat.report(b, "", "us")
			b.ReportMetric(lat.stalled(), "stalled-%")
			p50 := lat.percentile(0.5)
			if side == direct {
				baseline = p50
			} else if baseline > 0 {
				b.ReportMetric(float64(p50)/float64(baseline), "p50-x-direct")
				b.ReportMetric(float64(p50-baseline)/1e3, "p50-added-us")
			}
		})
	}
}

// measureLatency logs a and bb in, warms both directions up, then times
// one-way messages alternating direction for as long as b loops.
func measureLatency(b *testing.B, ctx context.Context, a, bb loginOpts) durations {
	b.Helper()
	a.resource, bb.resource = "lat", "lat"
	ca, _, err := benchLogin(ctx, a)
	if err != nil {
		b.Fatal(err)
	}
	defer ca.conn.Close()
	cb, _, err := benchLogin(ctx, bb)
	if err != nil {
		b.Fatal(err)
	}
	defer cb.conn.Close()
	peers := [2]*benchConn{ca, cb}
	for i := range 20 {
		if _, err := oneWay(peers[i%2], peers[1-i%2], -1-i); err != nil {
			b.Fatal(err)
		}
	}
	var lat durations
	for i := 0; b.Loop(); i++ {
		d, err := oneWay(peers[i%2], peers[1-i%2], i)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, d)
	}
	return lat
}

// loginRate runs one (a whole login) from workers goroutines at once, round
// after round for as long as b loops, and returns how many logins it made and
// how many per second.
func loginRate(b *testing.B, workers int, one func(resource string) error) (logins int64, perSecond float64) {
	b.Helper()
	var done atomic.Int64
	start := time.Now()
	for round := 0; b.Loop(); round++ {
		var wg sync.WaitGroup
		var failed atomic.Value
		for w := range workers {
			wg.Go(func() {
				if err := one(fmt.Sprintf("r%d-w%d", round, w)); err != nil {
					failed.Store(err)
					return
				}
				done.Add(1)
			})
		}
		wg.Wait()
		if err, _ := failed.Load().(error); err != nil {
			b.Fatal(err)
		}
	}
	return done.Load(), float64(done.Load()) / time.Since(start).Seconds()
}

// oneWay sends message seq from one session to the other and returns the time
// until the receiver has parsed it.
func oneWay(from, to *benchConn, seq int) (time.Duration, error) {
	body := strconv.Itoa(seq)
	msg := "<message to='" + to.jid + "' type='chat' id='m" + body + "'><body>" + body + "</body></message>"
	t0 := time.Now()
	_ = to.conn.SetReadDeadline(t0.Add(benchIOTimeout))
	if err := from.send(msg); err != nil {
		return 0, err
	}
	for range 16 { // stray stanzas (none expected) are skipped, a few at most
		el, err := to.next()
		if err != nil {
			return 0, err
		}
		if el.XMLName.Local == "message" && strings.Contains(el.Inner, "<body>"+body+"</body>") {
			return time.Since(t0), nil
		}
	}
	return 0, fmt.Errorf("%w: message %s did not arrive", errBench, body)
}

// ecdsaBenchStack is a proxy that serves an ECDSA certificate (listed next to
// the RSA one) to clients that take it, as tls.certificates allows.
func ecdsaBenchStack(b *testing.B, env *testenv.Env) *stack {
	b.Helper()
	cert, key, err := testenv.WriteECDSACert(b.TempDir(), env.Prosody.Domain)
	if err != nil {
		b.Fatal(err)
	}
	extra := benchLimits
	s := startBenchStackYAML(b, env, env.Prosody, strings.Replace(env.ProxyConfig(listenAny, extra), "certificates: [",
		fmt.Sprintf("certificates: [{cert_file: %q, key_file: %q}, ", cert, key), 1))
	pem, err := os.ReadFile(cert)
	if err != nil {
		b.Fatal(err)
	}
	s.roots.AppendCertsFromPEM(pem)
	return s
}
