package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/testenv"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/webdemo"
)

// webChat serves the Converse.js page, pointed at the proxy's WebSocket.
type webChat struct{ addr, dir string }

// serve starts the page until ctx ends and returns the URL to print: the
// login form, or a note on what is missing.
func (w webChat) serve(ctx context.Context, env *testenv.Env, wsAddr string) (string, error) {
	if w.addr == "" || wsAddr == "" {
		return "off", nil
	}
	if _, err := os.Stat(filepath.Join(w.dir, "node_modules", "converse.js", "dist", "converse.min.js")); err != nil {
		return "off (Converse.js is not installed: run scripts/setup-webclients.sh)", nil
	}
	ln, err := net.Listen("tcp", w.addr)
	if err != nil {
		return "", fmt.Errorf("listen %s (web chat): %w", w.addr, err)
	}
	srv := &http.Server{Handler: webdemo.Handler(w.dir), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "demo: web chat:", err)
		}
	}()
	context.AfterFunc(ctx, func() { srv.Close() })
	q := url.Values{"ws": {"ws://" + wsAddr + "/xmpp-websocket"}}
	return "http://" + ln.Addr().String() + "/?" + q.Encode() + " (log in as alice@" + env.Prosody.Domain + ")", nil
}
