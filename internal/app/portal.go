package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/config"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/tlscerts"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/portal"
)

// portalSite is the self-service page: its listener, its own certificate
// (nil: plain HTTP behind a reverse proxy) and the server. The credential
// store is the App's.
type portalSite struct {
	ln    net.Listener
	certs *tlscerts.Store
	srv   *http.Server
}

// newPortalSite loads the portal's certificate; nil when the portal is off.
func newPortalSite(cfg *config.Config) (*portalSite, error) {
	if !cfg.Portal.Enabled() {
		return nil, nil
	}
	p := &portalSite{}
	if cfg.Portal.CertFile != "" {
		certs, err := tlscerts.Load([]tlscerts.Pair{{CertFile: cfg.Portal.CertFile, KeyFile: cfg.Portal.KeyFile}})
		if err != nil {
			return nil, fmt.Errorf("portal.cert_file: %w", err)
		}
		p.certs = certs
	}
	return p, nil
}

// listenPortal binds the portal's listener, TLS-wrapped when it has a certificate.
func (a *App) listenPortal() error {
	if a.portal == nil {
		return nil
	}
	ln, err := net.Listen("tcp", a.cfg.Portal.Address)
	if err != nil {
		return fmt.Errorf("listen %s (portal): %w", a.cfg.Portal.Address, err)
	}
	if a.portal.certs != nil {
		ln = tls.NewListener(ln, &tls.Config{GetCertificate: a.portal.certs.GetCertificate, MinVersion: tls.VersionTLS12,
			NextProtos: []string{"h2", "http/1.1"}})
	}
	a.portal.ln = ln
	a.log.Info().Str("address", ln.Addr().String()).Str("public_url", a.cfg.Portal.PublicURL).Msg("self-service page listening")
	return nil
}

// PortalAddr is the bound portal listener's address, "" when off.
func (a *App) PortalAddr() string {
	if a.portal == nil || a.portal.ln == nil {
		return ""
	}
	return a.portal.ln.Addr().String()
}

// startPortal serves the page on the App's credential store.
func (a *App) startPortal(context.Context) error {
	if a.portal == nil {
		return nil
	}
	h, err := portal.New(portal.Config{
		PublicURL:       a.cfg.Portal.PublicURL,
		Domain:          a.cfg.PortalDomain(),
		ServerHost:      a.cfg.Portal.ServerHost,
		Ports:           portalPorts(a.cfg.Listeners),
		IdP:             a.oauth,
		Store:           a.store,
		Realms:          a.portalRealms,
		SessionIdle:     a.cfg.Portal.SessionIdle,
		SessionLifetime: a.cfg.Portal.SessionLifetime,
		Logger:          a.log.With().Str("component", "portal").Logger(),
	})
	if err != nil {
		return err
	}
	a.portal.srv = portal.NewServer(h)
	go func() {
		if err := a.portal.srv.Serve(a.portal.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error().Err(err).Msg("self-service page listener failed")
		}
	}()
	return nil
}

// stopPortal lets requests in flight finish briefly.
func (a *App) stopPortal() {
	if a.portal == nil {
		return
	}
	if a.portal.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.portal.srv.Shutdown(ctx); err != nil {
			a.portal.srv.Close()
		}
	} else if a.portal.ln != nil {
		a.portal.ln.Close()
	}
}

// probePortal says whether the page's sign-in can work with this IdP.
func (a *App) probePortal(out io.Writer) error {
	if a.portal == nil {
		return nil
	}
	if !a.oauth.CanCodeFlow() {
		fmt.Fprintf(out, "  portal sign-in: NOT POSSIBLE: no authorization endpoint, keys or issuer in the metadata\n")
		return errors.New("portal: the IdP offers no authorization code flow (authorization_endpoint, jwks_uri, issuer)")
	}
	fmt.Fprintf(out, "  portal sign-in: code flow with PKCE; register %s/callback at the IdP\n", a.cfg.Portal.PublicURL)
	return nil
}

// portalPorts are the client listeners as the page shows them.
func portalPorts(listeners []config.Listener) []portal.Port {
	var out []portal.Port
	for _, l := range listeners {
		_, port, _ := net.SplitHostPort(l.Address)
		if n, err := strconv.Atoi(port); err == nil && n > 0 {
			out = append(out, portal.Port{Port: n, DirectTLS: l.Mode == "direct"})
		}
	}
	return out
}
