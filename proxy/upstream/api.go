package upstream

import (
	"errors"
	"net"
)

// Credentials is what the proxy knows about a user who just authenticated.
type Credentials struct {
	Username string // localpart, normalised
	Password string // PLAIN password (passthrough strategy only)
	Token    string // access token (token strategy only)
}

// Session is an upstream stream that has just answered <success/>: the next thing to
// send on Conn is the client's restarted stream header. Buffered holds bytes the
// login read past <success/> (normally none); they belong to the client.
type Session struct {
	Conn     net.Conn
	Buffered []byte
}

var (
	// ErrUnavailable: the upstream could not be reached or failed mid-login -> temporary-auth-failure.
	ErrUnavailable = errors.New("upstream unavailable")
	// ErrRejected: the upstream refused the user even after provisioning -> not-authorized.
	ErrRejected = errors.New("upstream rejected login")
)
