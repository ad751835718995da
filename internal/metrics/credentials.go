package metrics

import "github.com/prometheus/client_golang/prometheus"

// credentialMetrics count app-password logins, grant checks and revocations.
type credentialMetrics struct {
	appPasswordLogins *prometheus.CounterVec
	grantChecks       *prometheus.CounterVec
	revocations       *prometheus.CounterVec
	sessionsRevoked   prometheus.Counter
	streamErrors      *prometheus.CounterVec
}

func newCredentialMetrics(ns string) credentialMetrics {
	return credentialMetrics{
		appPasswordLogins: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "app_password_logins_total",
			Help: "PLAIN logins checked against app passwords, by result (ok, revoked, grant_revoked, idp_unavailable)."}, []string{"result"}),
		grantChecks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "grant_checks_total",
			Help: "Refreshes of the IdP grants behind app passwords, by outcome (alive, revoked, unavailable)."}, []string{"outcome"}),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "revocations_total",
			Help: "Revocations seen, by kind (credential_revoked, grant_disabled)."}, []string{"kind"}),
		sessionsRevoked: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "sessions_revoked_total",
			Help: "Relayed sessions ended because their credential or grant was revoked."}),
		streamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "pre_auth_stream_errors_total",
			Help: "Connections the proxy ended with a stream error before relaying them, by RFC 6120 condition."}, []string{"condition"}),
	}
}

func (c credentialMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{c.appPasswordLogins, c.grantChecks, c.revocations, c.sessionsRevoked, c.streamErrors}
}

// AppPasswordLogin counts a PLAIN login that matched an app password.
func (m *Metrics) AppPasswordLogin(result string) {
	m.cred.appPasswordLogins.WithLabelValues(result).Inc()
}

// GrantCheck counts one refresh of a grant by outcome.
func (m *Metrics) GrantCheck(outcome string) { m.cred.grantChecks.WithLabelValues(outcome).Inc() }

// Revocation counts one revocation event by kind.
func (m *Metrics) Revocation(kind string) { m.cred.revocations.WithLabelValues(kind).Inc() }

// Revoked counts relayed sessions ended by a revocation (proxy's observer hook).
func (m *Metrics) Revoked(sessions int) { m.cred.sessionsRevoked.Add(float64(sessions)) }

// StreamError counts a pre-relay stream error by condition (proxy's observer hook).
func (m *Metrics) StreamError(cond string) { m.cred.streamErrors.WithLabelValues(cond).Inc() }
