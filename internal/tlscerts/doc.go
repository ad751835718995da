// Package tlscerts holds the proxy's own certificates, picks one per connection by
// SNI (or a domain name), and swaps them all at once on reload (SIGHUP) without
// touching established connections.
package tlscerts
