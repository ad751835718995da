package oauthx

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// waitRefreshes waits until the client has fetched the metadata n more times.
func waitRefreshes(t *testing.T, f *fakeIdP, n int) {
	t.Helper()
	want := f.hit("/.well-known/openid-configuration") + n
	deadline := time.Now().Add(20 * time.Second)
	for f.hit("/.well-known/openid-configuration") < want {
		if time.Now().After(deadline) {
			t.Fatal("the client stopped refreshing the metadata")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Discovery changing under a running proxy: a moved token endpoint is followed
// at the next refresh, without a restart; metadata that suddenly names another
// issuer is refused with an error log line, and the last good endpoints stay.
func TestDiscoveryChanges(t *testing.T) {
	f := newFakeIdP(t)
	cfg := f.config(ValidationJWT)
	cfg.RefreshInterval = 20 * time.Millisecond
	c, logs := start(t, cfg)
	if _, err := c.PasswordLogin(context.Background(), "alice", "alice-pw"); err != nil {
		t.Fatal(err)
	}

	f.set("/token-v2", f.token)
	f.set("/token", http.NotFound)
	f.mu.Lock()
	f.meta["token_endpoint"] = f.url("/token-v2")
	f.mu.Unlock()
	waitRefreshes(t, f, 2)
	if id, err := c.PasswordLogin(context.Background(), "alice", "alice-pw"); err != nil || id.Username != "alice" {
		t.Fatalf("after the token endpoint moved: %+v, %v", id, err)
	}
	if f.hit("/token-v2") != 1 {
		t.Fatalf("moved token endpoint asked %d times, want 1", f.hit("/token-v2"))
	}

	f.mu.Lock()
	f.meta["issuer"] = "https://impostor.example/realm"
	f.mu.Unlock()
	waitRefreshes(t, f, 2)
	if !strings.Contains(logs.String(), `"level":"error"`) || !strings.Contains(logs.String(), "is not the configured") {
		t.Fatalf("no error log line for the changed issuer:\n%s", logs.String())
	}
	if !c.Ready() {
		t.Fatal("a refused refresh made the client unready: the last good metadata should stay")
	}
	if id, err := c.PasswordLogin(context.Background(), "alice", "alice-pw"); err != nil || id.Username != "alice" {
		t.Fatalf("with the last good metadata: %+v, %v", id, err)
	}
	if f.hit("/token-v2") != 2 {
		t.Fatalf("token-v2 asked %d times, want 2", f.hit("/token-v2"))
	}
}
