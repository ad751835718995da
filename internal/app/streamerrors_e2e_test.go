package app_test

import (
	"testing"
	"time"
)

// TestPreAuthStreamErrorsCounted: a connection the proxy ends with a stream
// error before relaying it is counted by condition, not only logged.
func TestPreAuthStreamErrorsCounted(t *testing.T) {
	s := startStack(t, "")
	const metric = `xmpp_oauth_proxy_pre_auth_stream_errors_total{condition="not-well-formed"}`
	before := s.scrape(t, metric)
	c, _ := s.dialRaw(t, false)
	c.send("<message><body>&undeclared;</body></message>")
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if el, err := c.tryNext(); err != nil || el.XMLName.Local != "error" {
		t.Fatalf("want a stream error, got <%s> %v", el.XMLName.Local, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.scrape(t, metric) != before+1 {
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", metric, s.scrape(t, metric), before+1)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
