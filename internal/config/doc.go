// Package config loads xmpp-oauth-proxy's configuration: a YAML file with
// XMPP_OAUTH_PROXY_* environment overrides, secrets optionally read from files.
//
// Loading is strict: an unknown key, a value of the wrong type, a bad URL or a
// missing required value is an error naming the key and the file, because a typo
// in an authentication proxy's config must never be silently ignored.
//
// It only describes and checks settings; it builds no clients and opens no sockets
// (cmd does the wiring). It must not import proxy, saslauth or oauthx.
package config
