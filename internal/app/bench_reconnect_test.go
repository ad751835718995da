package app_test

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
)

// BenchmarkReconnect times one reconnect (TCP, Direct TLS, login, a bound
// resource, ready to send) of a mobile client, per login method, straight to
// Prosody and through the proxy, on loopback and through a relay that delays
// each direction by 25 ms. It reports p50/p90, the client's round trips and
// the proxy's IdP requests per login. The reference rows are the same FAST
// reconnects straight to a Prosody with prosody-modules' SASL2 stack
// (testenv.RequireReferenceProsody). Figures: docs/benchmarks.md.
//
//	go test -run '^$' -bench Reconnect -benchtime 30x ./internal/app
func BenchmarkReconnect(b *testing.B) {
	env := benchEnv(b)
	s := startBenchStack(b, env, benchLimits+storeConfigTB(b, "15m"))
	p := prosodyStack(b, env)
	ref := serverStack(b, env, testenv.RequireReferenceProsody(b))
	const direct = "benchreconnect"
	prosodyUser(b, env, direct)
	serverUser(b, ref.srv, direct)
	sc := scramClient(b, direct, benchDirectPassword)
	_, appPW := s.newAppPassword(b, "alice", env.IdP.Users["alice"], "bench")
	token := idpToken(b, env, "alice")
	domain := env.Prosody.Domain
	const ua = "<user-agent id='3f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f'><software>bench</software></user-agent>"
	bind := "<bind xmlns='urn:xmpp:bind:0'><tag>bench</tag></bind>"
	fastToken := benchFASTToken(b, loginOpts{addr: s.direct, direct: true, tls: s.tlsConfig(), domain: domain}, "alice", appPW, ua+bind)
	refOpts := loginOpts{addr: ref.direct, direct: true, tls: ref.tlsConfig(), domain: domain, user: direct, from: ref.jid(direct)}
	refToken := benchFASTToken(b, refOpts, direct, benchDirectPassword, ua+bind)

	type method struct {
		name  string
		o     loginOpts
		login func(context.Context, loginOpts) (*benchConn, error)
	}
	legacy := func(ctx context.Context, o loginOpts) (*benchConn, error) {
		c, _, err := benchLogin(ctx, o)
		return c, err
	}
	// legacyMobile also turns carbons and resumable stream management on, one
	// request after the other, as a mobile client does after binding.
	legacyMobile := func(ctx context.Context, o loginOpts) (*benchConn, error) {
		c, _, err := benchLogin(ctx, o)
		if err != nil {
			return nil, err
		}
		_ = c.conn.SetDeadline(time.Now().Add(benchIOTimeout))
		for _, step := range []struct{ send, want string }{
			{"<iq type='set' id='carbons'><enable xmlns='urn:xmpp:carbons:2'/></iq>", "iq"},
			{"<enable xmlns='urn:xmpp:sm:3' resume='true'/>", "enabled"},
		} {
			if err := c.send(step.send); err == nil {
				_, err = c.expect(step.want)
			}
			if err != nil {
				c.conn.Close()
				return nil, err
			}
		}
		_ = c.conn.SetDeadline(time.Time{})
		return c, nil
	}
	mobileBind := "<bind xmlns='urn:xmpp:bind:0'><tag>bench</tag><enable xmlns='urn:xmpp:carbons:2'/><enable xmlns='urn:xmpp:sm:3' resume='true'/></bind>"
	sasl2 := func(mech string, initial func() []byte, extra string) func(context.Context, loginOpts) (*benchConn, error) {
		return func(ctx context.Context, o loginOpts) (*benchConn, error) {
			c, _, err := benchSASL2(ctx, o, mech, initial(), extra)
			return c, err
		}
	}
	// pipelined is a FAST reconnect of a client that cached the features'
	// XEP-0509 version: <authenticate/> goes with the stream header.
	version := benchConfigVersion(b, loginOpts{addr: s.direct, direct: true, tls: s.tlsConfig(), domain: domain})
	pipelined := func(ctx context.Context, o loginOpts) (*benchConn, error) {
		o.pipeline = authenticate2XML("HT-SHA-256-NONE", htProof("alice", fastToken, nil),
			ua+bind+"<fast xmlns='urn:xmpp:fast:0'/><config-version xmlns='urn:xmpp:iap:0' value='"+version+"'/>")
		c, _, err := benchSASL2(ctx, o, "", nil, "")
		return c, err
	}
	for _, delay := range []time.Duration{0, 25 * time.Millisecond} {
		proxyAddr, prosodyAddr, refAddr := s.direct, p.direct, ref.direct
		if delay > 0 {
			proxyAddr, prosodyAddr, refAddr = delayRelay(b, s.direct, delay), delayRelay(b, p.direct, delay), delayRelay(b, ref.direct, delay)
		}
		viaProxy := loginOpts{addr: proxyAddr, direct: true, tls: s.tlsConfig(), domain: domain, user: "alice", from: s.jid("alice")}
		toRef := refOpts
		toRef.addr = refAddr
		methods := []method{
			{"prosody/legacy-scram", loginOpts{addr: prosodyAddr, direct: true, tls: p.tlsConfig(), domain: domain, mech: "SCRAM-SHA-1", user: direct, scram: sc}, legacy},
			{"proxy/legacy-plain-password-grant", withMech(viaProxy, "PLAIN", env.IdP.Users["alice"]), legacy},
			{"proxy/legacy-plain-app-password", withMech(viaProxy, "PLAIN", appPW), legacy},
			{"proxy/legacy-oauthbearer", withMech(viaProxy, "OAUTHBEARER", token), legacy},
			{"proxy/sasl2-plain-app-password", viaProxy, sasl2("PLAIN", func() []byte { return plainPayload("", "alice", appPW) }, bind)},
			{"proxy/sasl2-fast", viaProxy, sasl2("HT-SHA-256-NONE", func() []byte { return htProof("alice", fastToken, nil) },
				ua+bind+"<fast xmlns='urn:xmpp:fast:0'/>")},
			{"proxy/sasl2-fast-pipelined", viaProxy, pipelined},
			{"proxy/legacy-plain-app-password+carbons+sm", withMech(viaProxy, "PLAIN", appPW), legacyMobile},
			{"proxy/sasl2-fast+carbons+sm", viaProxy, sasl2("HT-SHA-256-NONE", func() []byte { return htProof("alice", fastToken, nil) },
				ua+mobileBind+"<fast xmlns='urn:xmpp:fast:0'/>")},
			{"reference/sasl2-fast", toRef, sasl2("HT-SHA-256-NONE", func() []byte { return htProof(direct, refToken, nil) },
				ua+bind+"<fast xmlns='urn:xmpp:fast:0'/>")},
			{"reference/sasl2-fast+carbons+sm", toRef, sasl2("HT-SHA-256-NONE", func() []byte { return htProof(direct, refToken, nil) },
				ua+mobileBind+"<fast xmlns='urn:xmpp:fast:0'/>")},
		}
		p50 := map[string]time.Duration{}
		for _, m := range methods {
			b.Run(fmt.Sprintf("delay=%s/%s", delay, m.name), func(b *testing.B) {
				ctx := context.Background()
				one := func(res string) (int, error) {
					o := m.o
					o.resource = res
					var rc *rttConn
					o.wrap = func(c net.Conn) net.Conn { rc = &rttConn{Conn: c}; return rc }
					c, err := m.login(ctx, o)
					if err != nil {
						return 0, err
					}
					trips := rc.trips
					_ = c.send("</stream:stream>")
					c.conn.Close()
					return trips, nil
				}
				if _, err := one("warm"); err != nil {
					b.Fatal(err)
				}
				before := s.scrape(b, "xmpp_oauth_proxy_idp_request_duration_seconds_count")
				var lat durations
				trips := 0
				for i := 0; b.Loop(); i++ {
					t0 := time.Now()
					n, err := one("r" + strconv.Itoa(i))
					if err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(t0))
					trips += n
				}
				lat.report(b, "", "ms")
				p50[m.name] = lat.percentile(0.5)
				b.ReportMetric(float64(trips)/float64(len(lat)), "round-trips/login")
				b.ReportMetric((s.scrape(b, "xmpp_oauth_proxy_idp_request_duration_seconds_count")-before)/float64(len(lat)), "idp-requests/login")
				switch m.name {
				case "proxy/sasl2-fast", "proxy/sasl2-fast-pipelined":
					b.ReportMetric(float64(p50[m.name])/float64(p50["proxy/legacy-plain-app-password"]), "p50-x-legacy-app-password")
					b.ReportMetric(float64(p50[m.name])/float64(p50["proxy/legacy-plain-password-grant"]), "p50-x-legacy-password-grant")
				case "proxy/sasl2-fast+carbons+sm":
					b.ReportMetric(float64(p50[m.name])/float64(p50["proxy/legacy-plain-app-password+carbons+sm"]), "p50-x-legacy-app-password")
				case "reference/sasl2-fast", "reference/sasl2-fast+carbons+sm":
					// The proxy's FAST reconnect measured against this one.
					proxy := "proxy/" + strings.TrimPrefix(m.name, "reference/")
					b.ReportMetric(float64(p50[proxy])/float64(p50[m.name]), "proxy-p50-x-reference")
				}
			})
		}
	}
}

func withMech(o loginOpts, mech, secret string) loginOpts {
	o.mech, o.secret = mech, secret
	return o
}

// benchSASL2 logs in with one SASL2 <authenticate/> up to the features that
// follow <success/>: the session is bound (with Bind2 in extra) and ready.
func benchSASL2(ctx context.Context, o loginOpts, mech string, initial []byte, extra string) (*benchConn, element, error) {
	ctx, cancel := context.WithTimeout(ctx, benchIOTimeout)
	defer cancel()
	c, _, _, err := benchTLS(ctx, o)
	if err != nil {
		return nil, element{}, err
	}
	ok := false
	defer func() {
		if !ok {
			c.conn.Close()
		}
	}()
	if o.pipeline == "" {
		if err := c.send(authenticate2XML(mech, initial, extra)); err != nil {
			return nil, element{}, err
		}
	}
	el, err := c.expect("success")
	if err != nil {
		return nil, element{}, err
	}
	if _, err := c.expect("features"); err != nil {
		return nil, element{}, err
	}
	_ = c.conn.SetDeadline(time.Time{})
	ok = true
	return c, el, nil
}

// benchFASTToken gets a FAST token with a PLAIN login (through the proxy
// with an app password: only those get one).
func benchFASTToken(b *testing.B, o loginOpts, user, secret, extra string) string {
	b.Helper()
	c, el, err := benchSASL2(context.Background(), o, "PLAIN", plainPayload("", user, secret),
		extra+"<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/>")
	if err != nil {
		b.Fatal(err)
	}
	c.conn.Close()
	var ok sasl2Success
	if err := xml.Unmarshal([]byte("<success xmlns='urn:xmpp:sasl:2'>"+el.Inner+"</success>"), &ok); err != nil || ok.Token == nil {
		b.Fatalf("no FAST token: %v %s", err, el.Inner)
	}
	return ok.Token.Token
}

// benchConfigVersion reads the XEP-0509 config version in the features the
// proxy offers after Direct TLS.
func benchConfigVersion(b *testing.B, o loginOpts) string {
	b.Helper()
	cfg := o.tls.Clone()
	cfg.NextProtos = []string{"xmpp-client"}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: benchIOTimeout}, "tcp", o.addr, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(benchIOTimeout))
	f, err := newBenchConn(conn).open(o.domain)
	if err != nil {
		b.Fatal(err)
	}
	m := regexp.MustCompile(`<config-version xmlns=['"]urn:xmpp:iap:0['"] value=['"]([^'"]+)['"]`).FindStringSubmatch(f.Inner)
	if m == nil {
		b.Fatalf("no XEP-0509 config-version offered: %s", f.Inner)
	}
	return m[1]
}
