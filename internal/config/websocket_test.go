package config

import (
	"strings"
	"testing"
)

// The websocket keys load, are checked, and belong to websocket listeners only.
func TestWebSocketListenerKeys(t *testing.T) {
	ok := strings.Replace(minimal, `listeners: [{address: "127.0.0.1:5222", mode: starttls}]`,
		`listeners: [{address: "127.0.0.1:5281", mode: websocket, path: /ws, plain_http: true, allowed_origins: ["https://chat.example.org", "*"], trusted_proxies: ["10.0.0.0/8"]}]`, 1)
	cfg, err := Load(write(t, ok))
	if err != nil {
		t.Fatal(err)
	}
	if l := cfg.Listeners[0]; l.Path != "/ws" || !l.PlainHTTP || len(l.AllowedOrigins) != 2 || l.TrustedProxies[0] != "10.0.0.0/8" {
		t.Fatalf("listener = %+v", l)
	}
	for name, tc := range map[string]struct{ listener, key string }{
		"path without slash": {`{address: "127.0.0.1:5281", mode: websocket, path: ws}`, "listeners[0].path"},
		"origin with a path": {`{address: "127.0.0.1:5281", mode: websocket, allowed_origins: ["https://a.example/x"]}`, "listeners[0].allowed_origins"},
		"origin no scheme":   {`{address: "127.0.0.1:5281", mode: websocket, allowed_origins: ["chat.example.org"]}`, "listeners[0].allowed_origins"},
		"tiny stanza limit":  {`{address: "127.0.0.1:5281", mode: websocket, max_stanza_bytes: 100}`, "listeners[0].max_stanza_bytes"},
		"path on starttls":   {`{address: "127.0.0.1:5222", mode: starttls, path: /ws}`, "listeners[0].mode"},
	} {
		t.Run(name, func(t *testing.T) {
			body := strings.Replace(minimal, `{address: "127.0.0.1:5222", mode: starttls}`, tc.listener, 1)
			_, err := Load(write(t, body))
			if err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("err = %v, want one naming %s", err, tc.key)
			}
		})
	}
}
