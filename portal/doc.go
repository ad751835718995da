// Package portal is the self-service page: users sign in at the IdP in
// their browser (OpenID Connect authorization code flow with PKCE, through
// oauthx) and manage their per-device app passwords (credstore). The proxy
// serves it on a listener of its own.
//
// It knows HTTP, the code flow and the credential store; it knows nothing of
// the XMPP wire, and touches live sessions only through credstore's
// revocation events.
//
// Pages are server-rendered html/template files embedded in the binary and
// work without JavaScript. Every POST form carries the session's CSRF token;
// the sign-in's state, nonce and PKCE verifier travel in a short-lived
// sealed cookie and each state is accepted once. Sessions live in memory
// (bounded, expiring): several replicas need sticky sessions for the page.
// Secrets (app passwords once shown, refresh tokens, codes, cookies) never
// reach a log line.
package portal
