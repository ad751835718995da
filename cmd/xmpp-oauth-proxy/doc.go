// Command xmpp-oauth-proxy puts OAuth 2 / OpenID Connect single sign-on in front of
// an unchanged XMPP server. This package holds only the command line (serve,
// check-config, version); the wiring is in internal/app, the protocol work in
// proxy, saslauth, proxy/upstream and oauthx.
package main
