package config

import (
	"net/url"
	"strings"
)

// validateWebSocket checks the keys of a websocket listener, and that other
// listeners do not set them.
func validateWebSocket(bad func(string, string, ...any), key string, l Listener) {
	w := l.WebSocket
	if l.Mode != "websocket" {
		if w.Path != "" || w.PlainHTTP || len(w.AllowedOrigins) > 0 || w.MaxStanzaBytes != 0 || w.PingInterval != 0 {
			bad(key+".mode", "path, plain_http, allowed_origins, max_stanza_bytes and ping_interval need mode websocket")
		}
		return
	}
	if w.Path != "" && !strings.HasPrefix(w.Path, "/") {
		bad(key+".path", "%q must start with /", w.Path)
	}
	if w.MaxStanzaBytes < 0 || w.MaxStanzaBytes > 0 && w.MaxStanzaBytes < 4096 {
		bad(key+".max_stanza_bytes", "must be at least 4096")
	}
	if w.PingInterval < 0 {
		bad(key+".ping_interval", "must not be negative")
	}
	for _, o := range w.AllowedOrigins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || strings.TrimSuffix(u.Path, "/") != "" || u.RawQuery != "" {
			bad(key+".allowed_origins", "%q is not an origin like https://chat.example.com, or *", o)
		}
	}
}
