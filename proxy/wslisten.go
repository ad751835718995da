package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// WebSocketOptions configures a listener of XMPP over WebSocket (RFC 7395).
type WebSocketOptions struct {
	// Path of the endpoint; default "/xmpp-websocket".
	Path string
	// TLS serves wss:// with the Server's certificates; without it plain HTTP,
	// for a TLS-terminating reverse proxy in front.
	TLS bool
	// AllowedOrigins are the browser origins ("https://chat.example.com") that
	// may connect; "*" allows any. Requests without Origin (not from a
	// browser) are allowed; others get 403 before the upgrade.
	AllowedOrigins []string
	// TrustedProxies are reverse proxies whose Forwarded / X-Forwarded-For
	// name the client. (Behind a PROXY-protocol balancer, wrap the listener
	// with ProxyProtocol instead.)
	TrustedProxies []netip.Prefix
	// MaxStanzaBytes bounds one message after authentication, both ways.
	// Default 262144 (Prosody's c2s stanza limit).
	MaxStanzaBytes int
	// PingInterval: how often an idle client is pinged; default 50s.
	PingInterval time.Duration
}

// Defaults of WebSocketOptions.
const (
	DefaultWebSocketPath  = "/xmpp-websocket"
	DefaultMaxStanzaBytes = 256 << 10
	DefaultWebSocketPing  = 50 * time.Second
	wsSubprotocol         = "xmpp"
	wsHeaderTimeout       = 10 * time.Second
	wsMaxHeaderBytes      = 16 << 10
	listenerWebSocket     = "websocket"
)

func (o *WebSocketOptions) setDefaults() {
	if o.Path == "" {
		o.Path = DefaultWebSocketPath
	}
	if o.MaxStanzaBytes <= 0 {
		o.MaxStanzaBytes = DefaultMaxStanzaBytes
	}
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultWebSocketPing
	}
}

// ServeWebSocket accepts XMPP over WebSocket on ln until ctx is done, ln is
// closed, or Shutdown; like Serve, sessions outlive ctx. Each session goes
// through the same limits, pre-auth stream and SASL as a TCP client, framed
// per RFC 7395, and is then relayed to the upstream's TCP stream.
func (s *Server) ServeWebSocket(ctx context.Context, ln net.Listener, o WebSocketOptions) error {
	o.setDefaults()
	if !s.addListener(ln) {
		return nil
	}
	defer s.removeListener(ln)
	if o.TLS {
		cfg := s.directTLS.Clone()
		cfg.NextProtos = []string{"http/1.1"}
		ln = tls.NewListener(ln, cfg)
	}
	hs := &http.Server{
		Handler:           s.wsHandler(o),
		ReadHeaderTimeout: wsHeaderTimeout,
		IdleTimeout:       wsHeaderTimeout,
		MaxHeaderBytes:    wsMaxHeaderBytes,
		ErrorLog:          log.New(zerologWriter{s}, "", 0),
		BaseContext:       func(net.Listener) context.Context { return s.base },
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
		case <-stop:
		}
		hs.Close() // upgraded sessions are not the http.Server's: they live on
	}()
	err := hs.Serve(ln)
	if ctx.Err() != nil || s.isClosing() || errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// zerologWriter sends net/http's own complaints (TLS handshake errors) to debug.
type zerologWriter struct{ s *Server }

func (z zerologWriter) Write(p []byte) (int, error) {
	z.s.log.Debug().Str("listener", listenerWebSocket).Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}

// wsHandler checks the upgrade request, then runs the session like a TCP one.
func (s *Server) wsHandler(o WebSocketOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, _ := netip.ParseAddrPort(r.RemoteAddr)
		client := forwardedClient(r, netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port()), o.TrustedProxies)
		refuse := func(status int, why string) {
			s.log.Info().Str("listener", listenerWebSocket).Str("remote", client.String()).Int("status", status).
				Str("origin", r.Header.Get("Origin")).Msg("websocket request refused: " + why)
			http.Error(w, http.StatusText(status), status)
		}
		switch {
		case r.URL.Path != o.Path:
			refuse(http.StatusNotFound, "unknown path")
			return
		case !originAllowed(r.Header.Get("Origin"), o.AllowedOrigins):
			refuse(http.StatusForbidden, "origin not allowed")
			return
		case !offersToken(r.Header.Values("Sec-WebSocket-Protocol"), wsSubprotocol):
			// RFC 7395 section 3.1: no "xmpp" subprotocol, no WebSocket.
			refuse(http.StatusBadRequest, "subprotocol xmpp not offered")
			return
		}
		hj := &smallHijacker{ResponseWriter: w}
		ws, err := websocket.Accept(hj, r, &websocket.AcceptOptions{
			Subprotocols:       []string{wsSubprotocol},
			InsecureSkipVerify: true, // the origin was checked above, against full origins
			CompressionMode:    websocket.CompressionDisabled,
		})
		if err != nil {
			s.log.Info().Str("listener", listenerWebSocket).Str("remote", client.String()).Err(err).Msg("websocket upgrade failed")
			return
		}
		local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		id := randomID(6)
		nc := newWSConn(ws, hj.nc, local, tcpAddr(client), s.cfg.MaxElementBytes, o.MaxStanzaBytes, o.PingInterval, s.log, id)
		c := newConn(s, nc, false)
		c.id, c.websocket, c.tlsDone = id, true, true // TLS, if any, is the HTTP layer's
		c.wsMaxStanza = o.MaxStanzaBytes
		c.log = c.log.With().Bool("websocket", true).Logger()
		switch s.track(c) {
		case closing:
			nc.Close()
			return
		case refused:
			return
		}
		c.serve()
	})
}

// originAllowed: no Origin (not a browser), or one on the list.
func originAllowed(origin string, allowed []string) bool {
	if origin == "" {
		return true
	}
	for _, a := range allowed {
		if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true
		}
	}
	return false
}

func offersToken(values []string, token string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
