// Package app wires a loaded configuration into a running proxy: certificates, the
// OAuth client, one upstream dialer per domain, and the proxy server; it owns the
// start-up and shutdown order. The commands in cmd/ call it; it holds no protocol logic.
package app
