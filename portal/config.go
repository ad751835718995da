package portal

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/credstore"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/oauthx"
)

// Config wires the page to the IdP, the store and what it tells users.
type Config struct {
	// PublicURL is where browsers reach the page, e.g.
	// https://xmpp.example.org/account; the IdP redirects to PublicURL +
	// "/callback". An https URL makes every cookie Secure.
	PublicURL string
	// Domain is the XMPP domain app passwords are for: the JID shown is
	// username@Domain.
	Domain string
	// ServerHost is the host users type into their app. Empty: Domain.
	ServerHost string
	// Ports are the proxy's client listeners, shown as connection settings.
	Ports []Port

	IdP   *oauthx.Client
	Store *credstore.Store
	// Realms, when set, are the only username realms (username_mapping
	// split) whose users may sign in here; nil: whatever the IdP client accepts.
	Realms []string

	// SessionIdle and SessionLifetime end a signed-in session after
	// inactivity and in any case. Zero: 30 minutes and 8 hours.
	SessionIdle, SessionLifetime time.Duration
	// MaxSessions bounds the sessions kept in memory; the oldest go first.
	// Zero: 10000.
	MaxSessions int

	Logger zerolog.Logger
	// Now is the clock; nil is time.Now. For tests.
	Now func() time.Time
}

// Port is one client listener as users configure it.
type Port struct {
	Port int
	// DirectTLS: TLS from the first byte (XEP-0368); otherwise STARTTLS.
	DirectTLS bool
}

func (c Config) withDefaults() (Config, error) {
	if c.SessionIdle <= 0 {
		c.SessionIdle = 30 * time.Minute
	}
	if c.SessionLifetime <= 0 {
		c.SessionLifetime = 8 * time.Hour
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = 10000
	}
	// Domains compare case-insensitively; the store compares JIDs exactly.
	c.Domain = strings.ToLower(c.Domain)
	if c.ServerHost == "" {
		c.ServerHost = c.Domain
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	u, err := url.Parse(c.PublicURL)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return c, fmt.Errorf("portal: public URL %q is not an http(s) URL", c.PublicURL)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return c, errors.New("portal: public URL must not carry a query, fragment or credentials")
	case c.Domain == "":
		return c, errors.New("portal: no XMPP domain")
	case c.IdP == nil || c.Store == nil:
		return c, errors.New("portal: needs an IdP client and a credential store")
	}
	c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
	return c, nil
}

// basePath is the path prefix of every route ("" at the root).
func (c Config) basePath() string {
	u, _ := url.Parse(c.PublicURL)
	return strings.TrimSuffix(u.Path, "/")
}

func (c Config) secure() bool { return strings.HasPrefix(c.PublicURL, "https://") }

func (c Config) redirectURL() string { return c.PublicURL + "/callback" }
