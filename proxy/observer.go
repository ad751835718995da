package proxy

// Observer receives events for metrics. Arguments are fixed vocabularies, never a
// user, address or secret. Implementations must be fast and concurrency-safe.
type Observer interface {
	// ConnOpened and ConnClosed bracket a client connection on a listener
	// ("starttls" or "direct").
	ConnOpened(listener string)
	ConnClosed(listener string)
	// SASL reports a finished exchange: result is "success" or the SASL condition.
	SASL(mechanism, result string)
	// UpstreamLogin reports a login upstream: "ok", "rejected" or "unavailable".
	UpstreamLogin(outcome string)
	// Relayed reports the bytes one ended session moved each way.
	Relayed(up, down int64)
	// Refused reports a connection or login turned away by a limit.
	Refused(reason string)
	// Revoked reports relayed sessions ended because their credential was revoked.
	Revoked(sessions int)
	// StreamError reports a connection ended by the proxy with an RFC 6120
	// stream error before it was relayed; cond is the condition.
	StreamError(cond string)
}

type nopObserver struct{}

func (nopObserver) ConnOpened(string)    {}
func (nopObserver) ConnClosed(string)    {}
func (nopObserver) SASL(string, string)  {}
func (nopObserver) UpstreamLogin(string) {}
func (nopObserver) Relayed(int64, int64) {}
func (nopObserver) Refused(string)       {}
func (nopObserver) Revoked(int)          {}
func (nopObserver) StreamError(string)   {}

func (c *conn) listenerName() string {
	if c.websocket {
		return listenerWebSocket
	}
	return listenerName(c.directTLS)
}

func listenerName(directTLS bool) string {
	if directTLS {
		return "direct"
	}
	return "starttls"
}
