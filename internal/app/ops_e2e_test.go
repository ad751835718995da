package app_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// scrape returns the metric samples whose line starts with prefix, summed.
func (s *stack) scrape(t testing.TB, prefix string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + s.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, prefix) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				t.Fatalf("bad sample %q", line)
			}
			sum += v
		}
	}
	return sum
}

func (s *stack) get(t *testing.T, path string) (int, string) {
	t.Helper()
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + s.metrics + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMetricsMoveWithRealLogins scrapes /metrics around real logins.
func TestMetricsMoveWithRealLogins(t *testing.T) { onEachServer(t, "", testMetricsMoveWithRealLogins) }

func testMetricsMoveWithRealLogins(t *testing.T, s *stack) {
	if code, _ := s.get(t, "/healthz"); code != 200 {
		t.Fatalf("/healthz = %d", code)
	}
	if code, body := s.get(t, "/readyz"); code != 200 {
		t.Fatalf("/readyz = %d %s", code, body)
	}

	plainOK := `xmpp_oauth_proxy_sasl_attempts_total{mechanism="PLAIN",result="success"}`
	plainBad := `xmpp_oauth_proxy_sasl_attempts_total{mechanism="PLAIN",result="not-authorized"}`
	bearerOK := `xmpp_oauth_proxy_sasl_attempts_total{mechanism="OAUTHBEARER",result="success"}`
	tokenReqs := `xmpp_oauth_proxy_idp_request_duration_seconds_count{endpoint="token"`
	allReqs := `xmpp_oauth_proxy_idp_request_duration_seconds_count`
	before := map[string]float64{}
	for _, m := range []string{plainOK, plainBad, bearerOK, tokenReqs, allReqs, "xmpp_oauth_proxy_connections_total", "xmpp_oauth_proxy_upstream_logins_total{outcome=\"ok\"}"} {
		before[m] = s.scrape(t, m)
	}

	s.loginPlain(t, "alice", s.env.IdP.Users["alice"])
	c, _ := s.dialRaw(t, false)
	wantFailure(t, c.auth("PLAIN", plainPayload("", "alice", "wrong")), "not-authorized")
	token := idpToken(t, s.env, "bob")
	for i := 0; i < 2; i++ {
		c, _ := s.dialRaw(t, true)
		if el := c.auth("OAUTHBEARER", bearerPayload("", token)); el.XMLName.Local != "success" {
			t.Fatalf("bob: <%s>", el.XMLName.Local)
		}
	}

	// One IdP call per PLAIN login (the grant; its JWT is checked locally), none
	// per OAUTHBEARER login once the keys are loaded.
	want := map[string]float64{plainOK: 1, plainBad: 1, bearerOK: 2, tokenReqs: 2, allReqs: 2,
		"xmpp_oauth_proxy_connections_total": 4, "xmpp_oauth_proxy_upstream_logins_total{outcome=\"ok\"}": 3}
	for m, delta := range want {
		if got := s.scrape(t, m) - before[m]; got != delta {
			t.Errorf("%s moved by %v, want %v", m, got, delta)
		}
	}
	// The second OAUTHBEARER login with the same token is a cache hit: no IdP call.
	if hits := s.scrape(t, `xmpp_oauth_proxy_token_cache_lookups_total{result="hit"}`); hits < 1 {
		t.Errorf("no token cache hit recorded")
	}
	// No user names or tokens in labels.
	_, body := s.get(t, "/metrics")
	for _, secret := range []string{"alice", "bob", token, s.env.IdP.Users["alice"]} {
		if strings.Contains(body, secret) {
			t.Errorf("metrics mention %q", secret[:min(len(secret), 12)])
		}
	}
}

// TestFailedLoginsAreThrottled: 50 wrong PLAIN logins from one IP reach the IdP
// only a handful of times; the rest are refused with temporary-auth-failure.
func TestFailedLoginsAreThrottled(t *testing.T) {
	env := testenvRequire(t)
	// Count the grants where Glewlwyd receives them: a transparent counter in
	// front of its token endpoint, independent of the proxy's own metrics.
	idp, err := url.Parse(env.IdP.TokenURL)
	if err != nil {
		t.Fatal(err)
	}
	var grantsAtIdP atomic.Int64
	forward := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: idp.Scheme, Host: idp.Host})
	counter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == idp.Path {
			grantsAtIdP.Add(1)
		}
		forward.ServeHTTP(w, r)
	}))
	defer counter.Close()
	yaml := env.ProxyConfig(listenAny, "limits: {connection_rate_per_ip: 1000, connection_burst_per_ip: 1000, max_auth_attempts: 10}\n")
	yaml = strings.Replace(yaml, "\noauth:\n", "\noauth:\n  token_endpoint: "+counter.URL+idp.Path+"\n", 1)
	s := startStackFor(t, env, yaml)

	tokenReqs := `xmpp_oauth_proxy_idp_request_duration_seconds_count{endpoint="token"`
	before := s.scrape(t, tokenReqs)
	refused := 0
	for i := 0; i < 50; i++ {
		c, _ := s.dialRaw(t, false)
		el := c.auth("PLAIN", plainPayload("", fmt.Sprintf("guess%d", i%3), "wrong-guess"))
		switch el.child() {
		case "temporary-auth-failure":
			refused++
		case "not-authorized":
		default:
			t.Fatalf("attempt %d: <%s>%s", i, el.XMLName.Local, el.Inner)
		}
		c.conn.Close()
	}
	grants := grantsAtIdP.Load()
	t.Logf("50 wrong logins: %d password grants reached the IdP, %d refused", grants, refused)
	if grants == 0 || grants > 10 || refused < 40 {
		t.Errorf("%d grants reached the IdP and %d were refused; want 1 to 10 and at least 40", grants, refused)
	}
	if m := s.scrape(t, tokenReqs) - before; m != float64(grants) {
		t.Errorf("the proxy's metrics count %v grants, the IdP got %d", m, grants)
	}
	if n := s.scrape(t, `xmpp_oauth_proxy_refused_total{reason="failed_logins"}`); n < 40 {
		t.Errorf("refused_total{failed_logins} = %v", n)
	}
	if !strings.Contains(s.logs.String(), "too many failed logins") {
		t.Error("no log line names the refusal")
	}
}
