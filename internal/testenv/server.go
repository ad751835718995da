package testenv

import "context"

// ServerInfo is what clients and the proxy need to reach an upstream XMPP
// server under test. Prosody and Ejabberd embed it.
type ServerInfo struct {
	Name          string // "prosody" or "ejabberd"
	Domain        string // "localhost"
	C2SAddr       string // 127.0.0.1:port, plain TCP then STARTTLS
	DirectTLSAddr string // 127.0.0.1:port, XEP-0368 direct TLS
	// CertFile and KeyFile are the self-signed certificate for Domain (and
	// 127.0.0.1). The certificate is its own CA, so CertFile also serves as
	// a root file for clients; tests reuse the pair for the proxy.
	CertFile, KeyFile string
	// AdminJID may run the XEP-0133 commands the managed strategy needs
	// (add-user, change-user-password).
	AdminJID, AdminPassword string
}

// Info returns the server's addresses and admin account.
func (s *ServerInfo) Info() *ServerInfo { return s }

// Server is an upstream XMPP server the tests run against: *Prosody or
// *Ejabberd.
type Server interface {
	Info() *ServerInfo
	// Register creates an account, or resets its password, bypassing XMPP.
	Register(ctx context.Context, user, password string) error
	// UserExists reports whether the server holds an account for user.
	UserExists(ctx context.Context, user string) (bool, error)
}

// Server names, for RequireServer and ServerNames.
const (
	ServerProsody  = "prosody"
	ServerEjabberd = "ejabberd"
)

// ServerNames are the upstream servers every server-dependent test runs against.
var ServerNames = []string{ServerProsody, ServerEjabberd}

// Server returns the environment's server called name, or nil if it has
// none (ejabberd without Options.Ejabberd).
func (e *Env) Server(name string) Server {
	switch {
	case name == ServerProsody && e.Prosody != nil:
		return e.Prosody
	case name == ServerEjabberd && e.Ejabberd != nil:
		return e.Ejabberd
	}
	return nil
}
