package config

import (
	"net/url"
	"strings"
	"time"
)

// Portal is the self-service page's own HTTP listener.
type Portal struct {
	Address string `mapstructure:"address"` // empty: off
	// PublicURL is where browsers reach the page; the IdP redirects to
	// PublicURL + "/callback", which must be registered for oauth.client_id.
	PublicURL string `mapstructure:"public_url"`
	// CertFile and KeyFile serve the page over HTTPS itself; without them it
	// speaks plain HTTP (behind a TLS-terminating reverse proxy).
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
	// Domain is the XMPP domain app passwords are for; default: the first
	// of domains[].
	Domain string `mapstructure:"domain"`
	// ServerHost is the host shown to users for their app; default: Domain.
	ServerHost      string        `mapstructure:"server_host"`
	SessionIdle     time.Duration `mapstructure:"session_idle"`
	SessionLifetime time.Duration `mapstructure:"session_lifetime"`
}

func defaultPortal() Portal {
	return Portal{SessionIdle: 30 * time.Minute, SessionLifetime: 8 * time.Hour}
}

// Enabled: the portal listens.
func (p Portal) Enabled() bool { return p.Address != "" }

// PortalDomain is the XMPP domain the portal's app passwords are for.
func (c *Config) PortalDomain() string {
	if c.Portal.Domain != "" || len(c.Domains) == 0 {
		return c.Portal.Domain
	}
	return c.Domains[0].Name
}

func (c *Config) validatePortal(bad func(string, string, ...any)) {
	p := c.Portal
	if !p.Enabled() {
		return
	}
	checkAddress(bad, "portal.address", p.Address)
	if p.PublicURL == "" {
		bad("portal.public_url", "required with portal.address: the URL browsers use, e.g. https://xmpp.example.org/account")
	} else if u, err := url.Parse(p.PublicURL); err == nil && (u.RawQuery != "" || u.Fragment != "") {
		bad("portal.public_url", "must not carry a query or fragment")
	} else {
		checkURL(bad, "portal.public_url", p.PublicURL)
	}
	if (p.CertFile == "") != (p.KeyFile == "") {
		bad("portal.cert_file", "cert_file and key_file go together")
	}
	if d := c.PortalDomain(); d != "" && !c.hasDomain(d) {
		bad("portal.domain", "%q is not one of domains[].name", d)
	}
	if p.SessionIdle <= 0 || p.SessionLifetime < p.SessionIdle {
		bad("portal.session_idle", "must be positive and at most session_lifetime")
	}
	if c.OAuth.Issuer == "" && c.OAuth.DiscoveryURL == "" {
		bad("portal", "sign-in needs oauth.issuer or oauth.discovery_url (the authorization endpoint is discovered)")
	}
	if c.OAuth.ClientID == "" {
		bad("oauth.client_id", "required for the portal's sign-in")
	}
	if !c.Store.Enabled() {
		bad("store", "the portal needs a credential store: store.path (SQLite) or store.dsn (PostgreSQL)")
	}
}

func (c *Config) hasDomain(name string) bool {
	for _, d := range c.Domains {
		if strings.EqualFold(d.Name, name) {
			return true
		}
	}
	return false
}

func (c *Config) resolvePortalPaths(abs func(*string)) {
	abs(&c.Portal.CertFile)
	abs(&c.Portal.KeyFile)
}
