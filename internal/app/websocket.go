package app

import (
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/config"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/proxy"
)

// webSocketOptions maps a websocket listener's keys; nil for other modes.
func webSocketOptions(l config.Listener) *proxy.WebSocketOptions {
	if l.Mode != "websocket" {
		return nil
	}
	o := &proxy.WebSocketOptions{
		Path:           l.Path,
		TLS:            !l.PlainHTTP,
		AllowedOrigins: l.AllowedOrigins,
		MaxStanzaBytes: l.MaxStanzaBytes,
		PingInterval:   l.PingInterval,
	}
	if !l.ProxyProtocol {
		// Behind a PROXY-protocol balancer the peer address is already the
		// client's; otherwise trusted reverse proxies name it in headers.
		o.TrustedProxies, _ = config.ParsePrefixes(l.TrustedProxies) // validated at load
	}
	return o
}
