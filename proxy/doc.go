// Package proxy accepts XMPP client connections (RFC 6120), terminates their TLS
// (STARTTLS, or XEP-0368 Direct TLS with ALPN "xmpp-client") and their SASL exchange
// (through saslauth), logs the user in upstream (through an Upstream, normally a
// *upstream.Dialer), and then relays raw bytes both ways.
//
// Typical use:
//
//	srv, err := proxy.New(proxy.Config{
//		Domains:      []proxy.Domain{{Name: "example.com", SASL: saslCfg, Upstream: dialer}},
//		Certificates: certs, // chosen by SNI, or by the stream's 'to' for STARTTLS
//		Logger:       log,
//	})
//	go srv.Serve(ctx, starttlsListener, false)
//	go srv.Serve(ctx, directTLSListener, true)
//	...
//	srv.Shutdown(drainCtx)
//
// One connection's life, in files: server.go (listeners, shutdown), accept.go
// (accept errors), admission.go (connection limits, decided before any read),
// limits.go and loginguard.go (per-client rates, failed-login throttle), tls.go
// (handshakes, certificate choice), preconnect.go (the upstream connection opened
// while the client authenticates), conn.go (the state machine up to <success/>),
// xmlin.go and xmlout.go (the restricted pre-auth XML stream), sasl.go (driving a
// saslauth.Session), sasl2.go and sasl2req.go (SASL2, XEP-0388), bind2.go (Bind2,
// XEP-0386, through upstream.Restart), sm.go (inline XEP-0198), fast.go (FAST,
// XEP-0484), relay.go (handoff and close semantics), relaydir.go (one
// direction's copy loop and parking), relayread.go, readable_*.go and reactor_*.go
// (idle sessions without parked buffers or goroutines).
//
// Memory: on Linux an idle relayed session parks no goroutine and no read buffer:
// each drained direction waits on one process-wide epoll instance
// (reactor_linux.go) and a fresh goroutine resumes it when data comes
// (relaydir.go). It then costs about 9.2 KiB of heap with a plaintext loopback
// upstream and about 17.2 KiB when the upstream connection is TLS too
// (BenchmarkIdleSessionMemory; before the reactor, 18.4 and 26.1 KiB with two 4 KiB
// goroutine stacks, which other systems still pay). A *tls.Conn keeps the buffer
// of the biggest record it ever received, so busy sessions cost more.
//
// Before <success/> the proxy parses every byte with a bounded encoding/xml decoder:
// one element at most Config.MaxElementBytes, 16 levels deep and 32 attributes a
// tag, no duplicate attribute, the whole phase at most Config.PreAuthTimeout, no
// comments, processing instructions or DTDs. After it the
// proxy never parses again: the client's restart header, bind, stream management and
// everything else belong to the upstream server and cross the proxy byte for byte.
// A SASL2 client asks for binding and stream management inside <authenticate/>: the
// proxy does them upstream before <success/>, then relays the same way.
//
// XMPP over WebSocket (RFC 7395, ServeWebSocket): wslisten.go checks the upgrade
// request (path, Origin, subprotocol "xmpp"), wsaddr.go the client address behind
// trusted reverse proxies, and wsconn.go shows the WebSocket to the rest of the
// package as a TCP client's byte stream, translating the framing with
// proxy/wsframe, so the same limits, pre-auth stream, SASL and relay serve it;
// wshijack.go keeps its buffers small. An idle WebSocket session costs about
// 30 KiB, one parked goroutine included (docs/benchmarks.md).
//
// The package does not know OAuth or how the upstream login works; it does not do
// XMPP server-to-server or BOSH, and it does not rewrite stanzas.
package proxy
