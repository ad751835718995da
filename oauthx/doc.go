// Package oauthx talks to the OAuth 2 / OpenID Connect authorization server:
// discovery, the resource owner password grant, token validation (UserInfo,
// RFC 7662 introspection, or local RFC 9068 JWT checks against the JWKS), the
// mapping of the server's username to an XMPP localpart, and a validation cache.
// It knows HTTP and OAuth and nothing of XMPP: it must not import saslauth,
// proxy, proxy/upstream or any XMPP library. cmd adapts it to
// saslauth.Authenticator and maps the error classes.
//
//	c, err := oauthx.New(oauthx.Config{Issuer: iss, ClientID: id, ClientSecret: s,
//		ResourceOwnerPassword: true, Logger: log})
//	if err != nil { ... }                     // errors.Is(err, oauthx.ErrMisconfigured)
//	c.Start(ctx)                               // background discovery, never blocks
//	defer c.Close()
//	id, err := c.PasswordLogin(ctx, "alice", pw)   // SASL PLAIN
//	id, err = c.ValidateToken(ctx, bearer)         // SASL OAUTHBEARER
//
// # Discovery
//
// From DiscoveryURL, or from Issuer: issuer/.well-known/openid-configuration,
// then RFC 8414's /.well-known/oauth-authorization-server/{path}, then
// issuer/.well-known/oauth-authorization-server (mod_auth_oauth_external's
// guess). The document's issuer must equal the configured one. Endpoints set
// in Config win over discovered ones. An unreachable server does not hold up
// start-up: Ready is false and Start's loop retries with jittered backoff
// (0.5 s doubling to 1 min), then refreshes metadata and keys every
// RefreshInterval. A JWT with an unknown kid refreshes the keys at once, at
// most every 10 s.
//
// # Validation
//
//   - userinfo: GET with the bearer token; 2xx and a string at UsernameField
//     mean valid. It says nothing about expiry, so a cached success lasts
//     CacheTTL.
//   - introspection (RFC 7662) with client authentication: active must be
//     true, exp not past, and the answer must pass the access token checks
//     below; the username comes from UsernameField, else "username". It sees
//     revocation.
//   - jwt: verified locally against the JWKS (RS*, PS*, ES*, EdDSA; not none
//     or HMAC): signature, typ at+jwt or JWT, iss, exp (required) and nbf with
//     30 s leeway, then the access token checks. A revoked JWT stays valid
//     until it expires.
//   - auto (default): jwt when the token is a JWT and the keys are loaded;
//     else introspection when there is an endpoint and a client_id; else
//     userinfo. A JWT that verifies but lacks the username field is passed on
//     to introspection or userinfo (logged once).
//
// Access token checks (a bearer token must be an access token meant for us;
// an ID token or another client's token would let any relying party log in
// as its users):
//
//   - no ID token: refused when it has at_hash, c_hash or s_hash, Keycloak's
//     typ "ID", an introspection token_type id_token (Glewlwyd), or a nonce
//     without a sign of an access token (header typ at+jwt, or Keycloak's
//     typ "Bearer", which before Keycloak 25 carried the nonce along).
//   - audience: with Audience set, aud must contain it (an introspection
//     answer without aud is refused). Without it, a token that has an aud
//     must name ClientID there or have been issued to ClientID (client_id or
//     azp claim); a token without aud passes. An aud string is also read as
//     a space-separated list: Glewlwyd puts the requested scopes there
//     ("openid xmpp"), so for Glewlwyd tokens of other clients (XMPP apps)
//     set Audience to a scope they request, e.g. "xmpp".
//
// A JWT sent to userinfo or introspection is first held to these checks on
// its unverified payload (which can only refuse it). UserInfo cannot see the
// audience of an opaque token: with Audience set that is ErrMisconfigured.
// The ID token of PLAIN's own grant (below) is checked by the ID token rules
// instead: aud must be ClientID.
//
// With no method available (no endpoint at all), CanValidate is false:
// OAUTHBEARER cannot be offered, and PLAIN takes the typed username as it is.
//
// # Requests per login
//
// PLAIN costs one password grant. With jwt validation, or auto with a JWT
// access token carrying the username and warm keys, the returned token is
// checked locally: one request in all. In auto mode with an opaque access
// token, an ID token that came with the grant (scope openid) is checked
// locally instead (signature, iss, exp, aud = client_id) when it names the
// user: still one request. Otherwise (userinfo or introspection configured, or
// no usable ID token) a second request is unavoidable. OAUTHBEARER costs no
// request once the keys are warm (jwt/auto) or the token is cached; otherwise
// one.
//
// # Usernames
//
// UsernameField is a dotted path into nested JSON objects and must lead to a
// string. UsernameMapping "split" keeps what precedes the first "@", and only
// when what follows is one of UsernameRealms (without case): a value of
// another realm, or of none, is rejected, since alice@corp and alice@other
// would otherwise become one account. The result
// is normalised with PRECIS UsernameCaseMapped (RFC 8265) and must be a valid
// localpart (RFC 7622: no "&'/:<>@ and at most 1023 bytes); otherwise the token
// is rejected (ErrInvalidToken; ErrInvalidCredentials for PLAIN) and the reason
// logged. A missing field is ErrMisconfigured.
//
// # Errors
//
// Every error wraps one of ErrInvalidCredentials, ErrInvalidToken (the client
// gets not-authorized), ErrUnavailable (timeout, refused, 5xx, 429, garbage,
// metadata not yet loaded: temporary-auth-failure) or ErrMisconfigured (wrong
// client secret, missing endpoint or field, issuer mismatch: logged at error
// level). The password grant is classified by the OAuth error code when there
// is one (invalid_grant: credentials; invalid_client and friends:
// misconfigured), else by status: 403 is credentials (Glewlwyd's wrong
// password), any other 4xx misconfigured (Glewlwyd's wrong client secret is a
// bare 400). Passwords, tokens and the client secret never appear in errors or
// logs.
//
// # Cache and load
//
// Validation successes are cached under the token's SHA-256 until the earlier
// of its expiry and CacheTTL, ErrInvalidToken verdicts for NegativeCacheTTL;
// both caches are LRUs bounded by CacheSize. Concurrent validations of one
// token share one request (singleflight). Password grants are not cached. One
// http.Client with keep-alive serves all requests; Timeout (default 5 s)
// bounds connecting, the TLS handshake and each whole request. CAFile adds
// roots; InsecureSkipVerify must be explicit and is logged as a warning.
// Plain http:// URLs, configured or discovered, are refused
// (ErrMisconfigured) unless they point at loopback or AllowInsecureHTTP is
// set (discovered ones are then logged as a warning). Redirects are not
// followed.
//
// Throughput measured with go test -bench: see docs/oauthx-bench.md.
package oauthx
