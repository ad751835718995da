// Package upstream logs users in to the unchanged upstream XMPP server (Prosody
// and ejabberd in tests; ejabberd's differences are in ejabberd.md) on their
// behalf, up to the upstream's SASL <success/>, and hands the connection over
// for the proxy to relay.
//
//	d, err := upstream.New(upstream.Config{
//		Domain: "example.org", Address: "127.0.0.1:5222",
//		SecretKey: key, AdminJID: "proxy-admin@example.org", AdminPassword: pw,
//		CreateAccounts: true, Logger: log,
//	})
//	d.Start(ctx) // optional: keep the admin session warm
//	s, err := d.Login(ctx, upstream.Credentials{Username: "alice"})
//	// errors.Is(err, upstream.ErrUnavailable) -> <temporary-auth-failure/>
//	// errors.Is(err, upstream.ErrRejected)    -> <not-authorized/>
//	// else: forward the client's restarted stream header to s.Conn, then relay;
//	// s.Buffered holds bytes read past <success/> (normally none).
//
// # The login
//
// TCP (RFC 6120) with STARTTLS, or XEP-0368 Direct TLS (ALPN "xmpp-client"), TLS
// 1.2 or newer with the certificate checked against Config.ServerName; plain TCP
// only to a loopback address or with AllowPlaintext. Then a stream to
// Config.Domain and SASL with the strongest mechanism offered: SCRAM-SHA-256,
// SCRAM-SHA-1 (RFC 5802/7677, github.com/xdg-go/scram; the server signature is
// verified, so a forged <success/> is refused), then PLAIN over TLS or loopback
// only. The package does not restart the stream after <success/>: the client's
// own restart header is forwarded, so both ends meet at the same point.
//
// # Credential strategies
//
// managed (default): the user's upstream password is a secret the proxy derives,
// base64url(HMAC-SHA256(SecretKey, "user@domain")), never stored and never
// logged. When the upstream refuses it, an admin session runs the XEP-0133
// command add-user (if CreateAccounts is set); if the account exists (Prosody:
// an error note, ejabberd: <conflict/>) and TakeOverExisting is set,
// change-user-password; then the login is tried once more on a fresh
// connection. A take-over REPLACES the user's previous upstream password: after
// it, the old password no longer works on the upstream directly. That is the
// point of the migration switch (the server moves to single sign-on and the
// proxy becomes the only way in), and it is irreversible without resetting
// passwords by hand. Rotating SecretKey re-provisions each account on its next
// login. Concurrent logins of one user share one provisioning run.
//
// The admin session is one long-lived, resource-bound stream as AdminJID (an
// admin: Prosody's admins with mod_admin_adhoc, ejabberd's configure rule with
// mod_configure), shared by all logins; IQs are matched by id, each request has
// a timeout, a request that times out takes the stream down, and the stream is
// redialled on next need (with backoff in the background after Start). Problems
// of the admin set-up (wrong password, not an admin, command missing) are
// ErrUnavailable, never ErrRejected:
// they are the operator's to fix, not the user's.
//
// passthrough: the user's own username and typed password go upstream (SCRAM or
// PLAIN), for upstreams that share the identity provider's directory. The SCRAM
// key cache then holds the password in memory (keyed by its hash) until evicted.
//
// token: SASL OAUTHBEARER (RFC 7628) with the user's access token and the authzid
// user@domain, for upstreams that accept the provider's tokens (Prosody 13 with
// its OAuth module). Not run against a real server here (there is no Prosody 13 in
// the test set-up): the tests check the bytes against a scripted server.
//
// # Speed
//
// Stock Prosody leaves Nagle's algorithm on; a client that waits for a delayed
// ACK pays ~40 ms per stall. The connection sets TCP_QUICKACK before every read
// (Linux; below the TLS layer, so it stays on for the relay), pipelines
// <starttls/> with the stream header, offers TLS session resumption (stock
// Prosody 0.12 declines it: its TLS defaults set no_ticket, so every login is a
// full handshake there), and caches SCRAM keys per user (a bounded LRU) so
// repeated logins skip PBKDF2. Preconnect (Config.Preconnect) opens a connection
// up to the features before the user is known, for a Login to take through
// WithPreconn; Restart sends the bind with the stream header. Figures are in
// docs/upstream-bench.md and docs/benchmarks.md.
//
// # Not here
//
// No listening, no client-side protocol, no relaying, no SCRAM-PLUS (channel
// binding), no OAuth: the token is passed on as it came. Nothing read from the
// upstream is trusted to be small: every element is bounded (256 KiB).
package upstream
