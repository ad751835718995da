// Command xmpp-oauth-proxy-demo (`make demo`) starts a local single sign-on chat stack on
// loopback: Glewlwyd as the OpenID Connect provider, a stock Prosody (or, with
// -server ejabberd, `make demo SERVER=ejabberd`, Debian's ejabberd) as the XMPP
// server, and xmpp-oauth-proxy in front of it, with demo users. It prints how to
// connect, runs until Ctrl-C and then removes everything it started.
package main
