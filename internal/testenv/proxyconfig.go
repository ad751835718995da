package testenv

import "fmt"

// ProxyListeners are the addresses a proxy config built by ProxyConfig listens on.
type ProxyListeners struct {
	StartTLS, Direct, Metrics string // "127.0.0.1:0" picks a free port; Metrics "" is off
	// WebSocket, when set, adds a third listener: XMPP over WebSocket (wss, the
	// same certificate, any origin); with WebSocketPlain, ws:// (loopback demo).
	WebSocket      string
	WebSocketPlain bool
}

// ProxyConfig returns an xmpp-oauth-proxy YAML config that fronts this Prosody with
// this Glewlwyd: managed credentials with account creation, discovery, the shared
// self-signed certificate. extra is appended at the top level (e.g. "log: {...}"); it
// must not repeat a key the config already has.
func (e *Env) ProxyConfig(l ProxyListeners, extra string) string {
	return e.ProxyConfigFor(e.Prosody, l, extra)
}

// ProxyConfigFor is ProxyConfig in front of srv (Prosody or ejabberd) instead.
func (e *Env) ProxyConfigFor(srv Server, l ProxyListeners, extra string) string {
	p, idp := srv.Info(), e.IdP
	ws := ""
	if l.WebSocket != "" {
		ws = fmt.Sprintf("\n  - {address: %q, mode: websocket, allowed_origins: [\"*\"], plain_http: %t}", l.WebSocket, l.WebSocketPlain)
	}
	return fmt.Sprintf(`listeners:
  - {address: %q, mode: starttls}
  - {address: %q, mode: direct}%s
tls:
  certificates: [{cert_file: %q, key_file: %q}]
domains:
  - name: %s
    upstream:
      address: %q
      tls: starttls
      ca_file: %q
      credentials: managed
      secret_key: %q
      admin_jid: %q
      admin_password: %q
      create_accounts: true
oauth:
  discovery_url: %q
  client_id: %q
  client_secret: %q
  scope: %q
metrics: {address: %q}
%s`, l.StartTLS, l.Direct, ws, p.CertFile, p.KeyFile, p.Domain, p.C2SAddr, p.CertFile,
		e.SecretKey, p.AdminJID, p.AdminPassword, idp.DiscoveryURL, idp.ClientID, idp.ClientSecret, idp.Scope, l.Metrics, extra)
}
