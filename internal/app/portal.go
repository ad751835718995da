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

	"github.com/rs/zerolog"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/credstore"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/config"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/tlscerts"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/portal"
)

// portalSite is the self-service page: its listener, its own certificate
// (nil: plain HTTP behind a reverse proxy), the store and the server.
type portalSite struct {
	ln    net.Listener
	certs *tlscerts.Store
	store *credstore.Store
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

// startPortal opens the credential store and serves the page.
func (a *App) startPortal(ctx context.Context) error {
	if a.portal == nil {
		return nil
	}
	sc, err := storeConfig(a.cfg.Store, a.log)
	if err != nil {
		return err
	}
	store, err := credstore.Open(ctx, sc)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	h, err := portal.New(portal.Config{
		PublicURL:       a.cfg.Portal.PublicURL,
		Domain:          a.cfg.PortalDomain(),
		ServerHost:      a.cfg.Portal.ServerHost,
		Ports:           portalPorts(a.cfg.Listeners),
		IdP:             a.oauth,
		Store:           store,
		SessionIdle:     a.cfg.Portal.SessionIdle,
		SessionLifetime: a.cfg.Portal.SessionLifetime,
		Logger:          a.log.With().Str("component", "portal").Logger(),
	})
	if err != nil {
		store.Close()
		return err
	}
	a.portal.store, a.portal.srv = store, portal.NewServer(h)
	go func() {
		if err := a.portal.srv.Serve(a.portal.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error().Err(err).Msg("self-service page listener failed")
		}
	}()
	return nil
}

// stopPortal lets requests in flight finish briefly, then closes the store.
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
	if a.portal.store != nil {
		a.portal.store.Close()
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

// storeConfig decodes the store's keys (validated at load).
func storeConfig(s config.Store, log zerolog.Logger) (credstore.Config, error) {
	hashKey, err := config.DecodeKey(s.HashKey)
	if err != nil {
		return credstore.Config{}, errors.New("store.hash_key: not base64")
	}
	sc := credstore.Config{Driver: s.Driver, Path: s.Path, DSN: s.DSN, HashKey: hashKey}
	for i, k := range s.EncryptionKeys {
		key, err := config.DecodeKey(k.Key)
		if err != nil {
			return credstore.Config{}, fmt.Errorf("store.encryption_keys[%d].key: not base64", i)
		}
		sc.EncryptionKeys = append(sc.EncryptionKeys, credstore.EncryptionKey{ID: k.ID, Key: key})
	}
	storeLog := log.With().Str("component", "store").Logger()
	sc.Logf = func(format string, args ...any) { storeLog.Warn().Msgf(format, args...) }
	return sc, nil
}
