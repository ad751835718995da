// Package saslauth is the server side of SASL for XMPP client logins: PLAIN
// (RFC 4616) and OAUTHBEARER (RFC 7628, XEP-0493). It checks credentials through
// the Authenticator interface and knows nothing of HTTP, OAuth or XML: the proxy
// decodes <auth/> and <response/> payloads from base64 and passes them in, and
// wraps what comes back in <challenge/>, <success/> or <failure/>.
//
// Typical use by the proxy (payloads already base64-decoded; nil when the client
// sent no initial response):
//
//	cfg := saslauth.Config{Authenticator: a, Domain: "example.com", AllowPlain: true,
//		AllowOAuthBearer: true, Scope: "xmpp:client:normal", DiscoveryURL: meta}
//	offer(cfg.Mechanisms()) // OAUTHBEARER, PLAIN
//	s, err := cfg.Start(mechanism) // *Failure{invalid-mechanism} if not offered
//	for done := false; err == nil; {
//		var challenge []byte
//		challenge, done, err = s.Next(ctx, payload)
//		if err == nil && done {
//			return s.Result(), nil
//		}
//		payload = sendChallengeAndReadResponse(challenge)
//	}
//	sendFailure(err.(*saslauth.Failure).Condition)
//
// Every error from Start and Next is a *Failure whose Condition is one of the
// constants here. Its Text and Error() never contain a password or token; errors
// an Authenticator returns are reported with the secret cut out, and errors.Is
// still sees ErrInvalidCredentials and ErrTemporary through them.
//
// # Identities
//
// The user's localpart is normalised with PRECIS UsernameCaseMapped (RFC 8265,
// RFC 7622 via mellium.im/xmpp/jid), so "ALICE" and fullwidth "ＡＬＩＣＥ" are
// "alice". A PLAIN user may type "alice" or "alice@example.com"; a bare JID of
// another domain is not-authorized without asking the Authenticator. The
// Authenticator's Identity.Username wins over what was typed. An authzid must be
// empty or the authenticated user's bare JID (RFC 6120 section 6.3.8), else
// invalid-authzid. Passwords are passed on as typed (not SASLprep'd): the
// authorization server owns their comparison.
//
// # PLAIN
//
// Fields are bounded (authzid 3071, authcid 2047, password 4096 bytes), must be
// UTF-8 and free of NUL; authcid and password must be non-empty. Violations are
// malformed-request. Result.Password keeps the password for the upstream
// passthrough strategy.
//
// # OAUTHBEARER
//
// The gs2 header is parsed strictly. "n," and "y," are accepted ("y": the client
// could bind channels but sees no -PLUS mechanism, which is true). "p=" (channel
// binding requested) is malformed-request: OAUTHBEARER has no channel binding and
// RFC 5801 section 5 has the server fail. The authzid's saslname escapes "=2C" and
// "=3D" are decoded; any other "=" escape is malformed-request.
//
// Key/value pairs follow RFC 7628: "auth" is required and must be
// "Bearer" 1*SP b64token (scheme case-insensitive); "host" and "port" are
// optional; unknown keys are ignored; a known key twice is malformed-request.
// A message is at most 64 KiB with at most 32 pairs.
//
// An empty token ("auth=", "auth=Bearer", "auth=Bearer ") is the XEP-0493 probe:
// the answer is the RFC 7628 error challenge (see Config.ErrorChallenge) carrying
// the scope and the discovery URL. A token the Authenticator rejects with
// ErrInvalidCredentials gets the same challenge. The client must then send a
// single 0x01 and gets not-authorized; anything else there is malformed-request,
// since RFC 7628 section 3.2.3 leaves the client only 0x01 or <abort/>.
// An authority that cannot answer (ErrTemporary or an unclassified error) gives
// temporary-auth-failure at once, with no challenge: the token was not judged.
// A lone 0x01 or an empty response where the client message belongs is
// malformed-request.
//
// Not here: counting failed attempts, TLS requirements and timeouts are the
// proxy's business; talking to the authorization server is oauthx's.
package saslauth
