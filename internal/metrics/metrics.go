package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds every collector; safe for concurrent use.
type Metrics struct {
	Registry *prometheus.Registry

	connsOpen      *prometheus.GaugeVec
	connsTotal     *prometheus.CounterVec
	refused        *prometheus.CounterVec
	sasl           *prometheus.CounterVec
	idpRequests    *prometheus.HistogramVec
	cache          *prometheus.CounterVec
	upstreamLogins *prometheus.CounterVec
	provisioning   *prometheus.CounterVec
	bytesRelayed   *prometheus.CounterVec
	cred           credentialMetrics
}

// New registers all collectors (plus Go runtime and process ones) in a fresh registry.
func New() *Metrics {
	const ns = "xmpp_oauth_proxy"
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		connsOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "connections_open",
			Help: "Client connections open now, by listener."}, []string{"listener"}),
		connsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "connections_total",
			Help: "Client connections accepted, by listener."}, []string{"listener"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "refused_total",
			Help: "Connections or logins refused by a limit, by reason."}, []string{"reason"}),
		sasl: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "sasl_attempts_total",
			Help: "SASL exchanges, by mechanism and result (success or the SASL condition)."}, []string{"mechanism", "result"}),
		idpRequests: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "idp_request_duration_seconds",
			Help:    "Requests to the authorization server, by endpoint and outcome.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"endpoint", "outcome"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "token_cache_lookups_total",
			Help: "Token validation cache look-ups, by result (hit or miss)."}, []string{"result"}),
		upstreamLogins: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "upstream_logins_total",
			Help: "Logins to the upstream XMPP server on a user's behalf, by outcome."}, []string{"outcome"}),
		provisioning: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "upstream_provisioning_total",
			Help: "XEP-0133 account changes on the upstream, by action and outcome."}, []string{"action", "outcome"}),
		bytesRelayed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "relayed_bytes_total",
			Help: "Bytes relayed after login, by direction (up: client to server; down: server to client)."}, []string{"direction"}),
	}
	m.cred = newCredentialMetrics(ns)
	m.Registry.MustRegister(m.connsOpen, m.connsTotal, m.refused, m.sasl, m.idpRequests, m.cache,
		m.upstreamLogins, m.provisioning, m.bytesRelayed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.Registry.MustRegister(m.cred.collectors()...)
	return m
}

// ConnOpened and ConnClosed track client connections on a listener ("starttls", "direct" or "websocket").
func (m *Metrics) ConnOpened(listener string) {
	m.connsTotal.WithLabelValues(listener).Inc()
	m.connsOpen.WithLabelValues(listener).Inc()
}

func (m *Metrics) ConnClosed(listener string) { m.connsOpen.WithLabelValues(listener).Dec() }

// Refused counts a connection or login turned away by a limit.
func (m *Metrics) Refused(reason string) { m.refused.WithLabelValues(reason).Inc() }

// SASL counts one finished SASL exchange; result is "success" or a SASL condition.
func (m *Metrics) SASL(mechanism, result string) { m.sasl.WithLabelValues(mechanism, result).Inc() }

// Relayed adds the bytes one session relayed.
func (m *Metrics) Relayed(up, down int64) {
	m.bytesRelayed.WithLabelValues("up").Add(float64(up))
	m.bytesRelayed.WithLabelValues("down").Add(float64(down))
}

// Request is oauthx's observer hook: one request to the authorization server.
func (m *Metrics) Request(endpoint, outcome string, d time.Duration) {
	m.idpRequests.WithLabelValues(endpoint, outcome).Observe(d.Seconds())
}

// CacheHit and CacheMiss are oauthx's observer hooks for the token cache.
func (m *Metrics) CacheHit()  { m.cache.WithLabelValues("hit").Inc() }
func (m *Metrics) CacheMiss() { m.cache.WithLabelValues("miss").Inc() }

// UpstreamLogin counts a login upstream on a user's behalf; outcome: ok, rejected, unavailable.
func (m *Metrics) UpstreamLogin(outcome string) { m.upstreamLogins.WithLabelValues(outcome).Inc() }

// Provisioned counts an XEP-0133 account change; action: add-user,
// change-user-password (a take-over) or take-over-refused.
func (m *Metrics) Provisioned(action, outcome string) {
	m.provisioning.WithLabelValues(action, outcome).Inc()
}
