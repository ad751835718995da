package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/credstore"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/grantcheck"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/config"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/metrics"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/tlscerts"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/oauthx"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/proxy"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/proxy/upstream"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// App is the wired process: built from a config without touching the network,
// then run until its context ends.
type App struct {
	cfg     *config.Config
	log     zerolog.Logger
	certs   *tlscerts.Store
	oauth   *oauthx.Client
	dialers []*upstream.Dialer
	server  *proxy.Server
	metrics *metrics.Metrics
	store   *credstore.Store // nil: no app passwords
	// portalRealms: the realms the portal's domain accepts (nil: any oauthx accepts).
	portalRealms []string
	checker      *grantcheck.Checker // with store

	listeners []boundListener
	metricsLn net.Listener
	portal    *portalSite // nil: no self-service page
}

func New(cfg *config.Config, log zerolog.Logger) (*App, error) {
	a := &App{cfg: cfg, log: log, metrics: metrics.New()}
	var pairs []tlscerts.Pair
	for _, c := range cfg.TLS.Certificates {
		pairs = append(pairs, tlscerts.Pair{CertFile: c.CertFile, KeyFile: c.KeyFile})
	}
	certs, err := tlscerts.Load(pairs)
	if err != nil {
		return nil, fmt.Errorf("tls.certificates: %w", err)
	}
	a.certs = certs
	if a.portal, err = newPortalSite(cfg); err != nil {
		return nil, err
	}

	oc := oauthConfig(cfg.OAuth, log)
	oc.Observer = a.metrics
	// Without username_realms each domain accepts its own realm only (below);
	// oauthx accepts any of them.
	defaultRealms := len(oc.UsernameRealms) == 0
	if defaultRealms {
		a.portalRealms = []string{strings.ToLower(strings.TrimSuffix(cfg.PortalDomain(), "."))}
		for _, d := range cfg.Domains {
			oc.UsernameRealms = append(oc.UsernameRealms, d.Name)
		}
	}
	if urls := cfg.OAuth.InsecureHTTPURLs(); len(urls) > 0 {
		log.Warn().Strs("urls", urls).Msg("allow_insecure_http: tokens and the client secret cross the network to the IdP in clear text")
	}
	a.oauth, err = oauthx.New(oc)
	if err != nil {
		return nil, fmt.Errorf("oauth: %w", err)
	}

	pc := proxy.Config{
		Certificates:    certs,
		PreAuthTimeout:  cfg.Limits.PreAuthTimeout,
		MaxElementBytes: cfg.Limits.MaxElementBytes,
		MaxAuthAttempts: cfg.Limits.MaxAuthAttempts,
		WriteTimeout:    cfg.Limits.RelayWriteTimeout,
		Limits:          proxyLimits(cfg.Limits, log),
		Observer:        a.metrics,
		Logger:          log,
		SessionChecker:  sessionChecker{a.oauth},
		SessionRecheck:  cfg.Sessions.Recheck,
	}
	if a.store, err = openStore(cfg); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if a.store != nil {
		a.checker = grantcheck.New(grantcheck.Config{
			Store: grantStore{a.store}, Refresher: grantRefresher{a.oauth},
			Interval: cfg.AppPasswords.Recheck, Grace: cfg.AppPasswords.Grace,
			Observe: a.metrics.GrantCheck, Logger: log,
		})
	}
	for i, d := range cfg.Domains {
		auth := oauthAuthenticator{client: a.oauth}
		if defaultRealms {
			auth.realms = []string{strings.ToLower(strings.TrimSuffix(d.Name, "."))}
		}
		uc, err := upstreamConfig(d, log)
		if err != nil {
			return nil, fmt.Errorf("domains[%d].upstream: %w", i, err)
		}
		uc.OnProvision = a.metrics.Provisioned
		dialer, err := upstream.New(uc)
		if err != nil {
			return nil, fmt.Errorf("domains[%d].upstream: %w", i, err)
		}
		a.dialers = append(a.dialers, dialer)
		var domainAuth saslauth.Authenticator = auth
		// PLAIN needs the password grant (whose token also serves the token strategy)
		// or app passwords, which only the managed strategy can log in with.
		allowPlain := cfg.OAuth.ResourceOwnerPassword && a.oauth.CanPassword()
		var fast *fastStore
		var scram *scramStore
		if a.store != nil && d.Upstream.Credentials == "managed" {
			domainAuth = appPasswordAuthenticator{store: a.store, checker: a.checker, next: auth,
				grant: allowPlain, domain: strings.ToLower(d.Name), metrics: a.metrics}
			allowPlain = true
			if cfg.AppPasswords.SCRAMOffered(cfg.OAuth.ResourceOwnerPassword) {
				scram = &scramStore{appPasswordAuthenticator: domainAuth.(appPasswordAuthenticator)}
			}
			if cfg.AppPasswords.FASTTokenLifetime > 0 {
				fast = &fastStore{store: a.store, checker: a.checker, domain: strings.ToLower(d.Name),
					lifetime: cfg.AppPasswords.FASTTokenLifetime}
			}
		}
		pc.Domains = append(pc.Domains, proxy.Domain{
			Name: d.Name,
			SASL: saslauth.Config{
				Authenticator: domainAuth,
				Domain:        d.Name,
				// Passthrough needs a password, so OAUTHBEARER cannot feed it.
				AllowPlain:       allowPlain,
				AllowOAuthBearer: a.oauth.CanValidate() && d.Upstream.Credentials != "passthrough",
				Scope:            cfg.OAuth.Scope,
				DiscoveryURL:     a.oauth.DiscoveryURL(),
			},
			Upstream: dialer,
		})
		last := &pc.Domains[len(pc.Domains)-1]
		if fast != nil {
			last.SASL.FAST, last.FAST = *fast, *fast
		}
		if scram != nil {
			last.SASL.SCRAM = *scram
		}
	}
	a.server, err = proxy.New(pc)
	if err != nil {
		return nil, err
	}
	if err := a.loadTicketKeys(); err != nil {
		return nil, err
	}
	return a, nil
}

func proxyLimits(l config.Limits, log zerolog.Logger) proxy.Limits {
	maxConns, lowered := boundedMaxConnections(l.MaxConnections, openFileLimit())
	if lowered {
		log.Warn().Int("configured", l.MaxConnections).Int("effective", maxConns).Uint64("open_file_limit", openFileLimit()).
			Msg("limits.max_connections lowered to fit the open-file limit (two descriptors per session); raise LimitNOFILE / ulimit -n to allow more")
	}
	return proxy.Limits{
		MaxConnections:              maxConns,
		MaxPreAuth:                  l.MaxPreAuthConnections,
		MaxPreAuthPerClient:         l.MaxPreAuthPerIP,
		ConnectionRate:              l.ConnectionRatePerIP,
		ConnectionBurst:             l.ConnectionBurstPerIP,
		FreeFailures:                l.FreeFailedLogins,
		FailureDelay:                l.FailedLoginDelay,
		MaxFailureDelay:             l.FailedLoginMaxDelay,
		MaxConcurrentPasswordGrants: l.MaxConcurrentPasswordGrants,
		IPv6PrefixBits:              l.IPv6PrefixBits,
	}
}

func oauthConfig(o config.OAuth, log zerolog.Logger) oauthx.Config {
	return oauthx.Config{
		Issuer:                  o.Issuer,
		DiscoveryURL:            o.DiscoveryURL,
		TokenEndpoint:           o.TokenEndpoint,
		UserinfoEndpoint:        o.ValidationEndpoint,
		IntrospectionEndpoint:   o.IntrospectionEndpoint,
		JWKSURL:                 o.JWKSURL,
		ClientID:                o.ClientID,
		ClientSecret:            o.ClientSecret,
		Scope:                   o.Scope,
		TokenEndpointAuthMethod: o.TokenEndpointAuthMethod,
		UsernameField:           o.UsernameField,
		UsernameMapping:         o.UsernameMapping,
		UsernameRealms:          o.UsernameRealms,
		ResourceOwnerPassword:   o.ResourceOwnerPassword,
		Validation:              o.Validation,
		Audience:                o.Audience,
		Timeout:                 o.Timeout,
		CAFile:                  o.CAFile,
		InsecureSkipVerify:      o.InsecureSkipVerify,
		AllowInsecureHTTP:       o.AllowInsecureHTTP,
		CacheTTL:                o.CacheTTL,
		NegativeCacheTTL:        o.NegativeCacheTTL,
		CacheSize:               o.CacheSize,
		Logger:                  log.With().Str("component", "oauth").Logger(),
	}
}

func upstreamConfig(d config.Domain, log zerolog.Logger) (upstream.Config, error) {
	u := d.Upstream
	uc := upstream.Config{
		Domain:            d.Name,
		Address:           u.Address,
		TLSMode:           u.TLS,
		AllowPlaintext:    u.AllowPlaintext,
		SendProxyHeader:   u.SendProxyProtocol,
		ServerName:        u.ServerName,
		Credentials:       u.Credentials,
		SecretKey:         []byte(u.SecretKey),
		AdminJID:          u.AdminJID,
		AdminPassword:     u.AdminPassword,
		CreateAccounts:    u.CreateAccounts,
		TakeOverExisting:  u.TakeOverExisting,
		ReservedUsernames: u.ReservedUsernames,
		DialTimeout:       u.DialTimeout,
		LoginTimeout:      u.LoginTimeout,
		Preconnect:        u.Preconnect == nil || *u.Preconnect,
		Logger:            log.With().Str("component", "upstream").Str("domain", d.Name).Logger(),
	}
	if u.CAFile != "" {
		pem, err := os.ReadFile(u.CAFile)
		if err != nil {
			return uc, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return uc, fmt.Errorf("ca_file %s: no PEM certificates", u.CAFile)
		}
		uc.RootCAs = pool
	}
	return uc, nil
}

// boundListener is a listening socket and whether it speaks Direct TLS, or
// XMPP over WebSocket (ws non-nil).
type boundListener struct {
	ln     net.Listener
	direct bool
	ws     *proxy.WebSocketOptions
}

// Listen binds every configured listener; Addrs then reports where.
func (a *App) Listen() error {
	for _, l := range a.cfg.Listeners {
		ln, err := net.Listen("tcp", l.Address)
		if err != nil {
			a.closeListeners()
			return fmt.Errorf("listen %s: %w", l.Address, err)
		}
		if l.ProxyProtocol {
			trusted, _ := config.ParsePrefixes(l.TrustedProxies) // validated at load
			ln = proxy.ProxyProtocol{Trusted: trusted, Logger: a.log, Observer: a.metrics}.Listen(ln)
		}
		a.listeners = append(a.listeners, boundListener{ln, l.Mode == "direct", webSocketOptions(l)})
		a.log.Info().Str("address", ln.Addr().String()).Str("mode", l.Mode).Msg("listening")
	}
	if addr := a.cfg.Metrics.Address; addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			a.closeListeners()
			return fmt.Errorf("listen %s (metrics): %w", addr, err)
		}
		a.metricsLn = ln
		a.log.Info().Str("address", ln.Addr().String()).Msg("metrics and health listening")
	}
	if err := a.listenPortal(); err != nil {
		a.closeListeners()
		return err
	}
	return nil
}

// MetricsAddr is the bound metrics listener's address, "" when off.
func (a *App) MetricsAddr() string {
	if a.metricsLn == nil {
		return ""
	}
	return a.metricsLn.Addr().String()
}

// serveMetrics serves /metrics, /healthz and /readyz until the server is closed.
func (a *App) serveMetrics() *http.Server {
	if a.metricsLn == nil {
		return nil
	}
	ready := &readiness{a: a}
	srv := &http.Server{
		Handler:           a.metrics.Handler(ready.check),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	go func() {
		if err := srv.Serve(a.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error().Err(err).Msg("metrics listener failed")
		}
	}()
	return srv
}

// Addrs are the bound listener addresses, in config order.
func (a *App) Addrs() []string {
	var out []string
	for _, b := range a.listeners {
		out = append(out, b.ln.Addr().String())
	}
	return out
}

func (a *App) closeListeners() {
	for _, b := range a.listeners {
		b.ln.Close()
	}
	if a.metricsLn != nil {
		a.metricsLn.Close()
	}
	if a.portal != nil && a.portal.ln != nil {
		a.portal.ln.Close()
	}
}

// Run listens (unless Listen was called), serves until ctx ends, then drains and stops.
func (a *App) Run(ctx context.Context) error {
	if a.listeners == nil {
		if err := a.Listen(); err != nil {
			return err
		}
	}
	listeners := a.listeners
	if srv := a.serveMetrics(); srv != nil {
		defer srv.Close()
	}
	bg, cancelBackground := context.WithCancel(context.Background())
	defer cancelBackground()
	a.oauth.Start(bg)
	for _, d := range a.dialers {
		d.Start(bg)
	}
	if a.store != nil {
		defer a.store.Close()
		go a.checker.Run(bg)
		sub := a.store.Subscribe()
		defer sub.Close()
		go a.endRevokedSessions(sub)
	}
	if err := a.startPortal(bg); err != nil {
		a.closeListeners()
		for _, d := range a.dialers {
			d.Close()
		}
		a.oauth.Close()
		return err
	}

	serveCtx, stopServing := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, len(listeners))
	for _, b := range listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			serve := func() error { return a.server.Serve(serveCtx, b.ln, b.direct) }
			if b.ws != nil {
				serve = func() error { return a.server.ServeWebSocket(serveCtx, b.ln, *b.ws) }
			}
			if err := serve(); err != nil && !errors.Is(err, net.ErrClosed) && serveCtx.Err() == nil {
				errs <- err
			}
		}()
	}

	var runErr error
	select {
	case <-ctx.Done():
		a.log.Info().Dur("drain", a.cfg.Limits.ShutdownDrain).Msg("shutting down")
	case runErr = <-errs:
		a.log.Error().Err(runErr).Msg("listener failed, shutting down")
	}
	stopServing()
	for _, b := range a.listeners { // metrics stay up through the drain
		b.ln.Close()
	}
	drainCtx, cancel := context.WithTimeout(context.Background(), a.cfg.Limits.ShutdownDrain)
	defer cancel()
	if err := a.server.Shutdown(drainCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		a.log.Warn().Err(err).Msg("shutdown")
	}
	wg.Wait()
	a.stopPortal()
	cancelBackground()
	for _, d := range a.dialers {
		d.Close()
	}
	a.oauth.Close()
	a.log.Info().Msg("stopped")
	return runErr
}

// Reload re-reads what can change without dropping sessions: the TLS
// certificates and session-ticket keys.
func (a *App) Reload() {
	start := time.Now()
	if err := a.certs.Reload(); err != nil {
		a.log.Error().Err(err).Msg("reload failed; keeping the old certificates")
		return
	}
	if err := a.loadTicketKeys(); err != nil {
		a.log.Error().Err(err).Msg("reload of the session ticket keys failed; keeping the old ones")
		return
	}
	if a.portal != nil && a.portal.certs != nil {
		if err := a.portal.certs.Reload(); err != nil {
			a.log.Error().Err(err).Msg("reload of the portal certificate failed; keeping the old one")
			return
		}
	}
	a.log.Info().Dur("took", time.Since(start)).Msg("reloaded TLS certificates")
}

// loadTicketKeys applies tls.session_ticket_keys_file, if set.
func (a *App) loadTicketKeys() error {
	if a.cfg.TLS.SessionTicketKeysFile == "" {
		return nil
	}
	keys, err := config.ReadSessionTicketKeys(a.cfg.TLS.SessionTicketKeysFile)
	if err != nil {
		return err
	}
	a.server.SetSessionTicketKeys(keys)
	return nil
}

// Probe contacts the IdP and every upstream once and reports what it found.
func (a *App) Probe(ctx context.Context, out io.Writer) error {
	var problems []error
	a.oauth.Start(ctx)
	defer a.oauth.Close()
	if err := a.oauth.WaitReady(ctx); err != nil {
		problems = append(problems, fmt.Errorf("IdP: %w", err))
		fmt.Fprintf(out, "IdP: NOT READY: %v\n", err)
	} else {
		fmt.Fprintf(out, "IdP: ready (discovery %s)\n", a.oauth.DiscoveryURL())
		for _, e := range a.oauth.Endpoints() {
			fmt.Fprintf(out, "  %-14s %s\n", e.Name+":", e.URL)
		}
		fmt.Fprintf(out, "  SASL PLAIN: %v, OAUTHBEARER: %v\n", a.cfg.OAuth.ResourceOwnerPassword && a.oauth.CanPassword(), a.oauth.CanValidate())
		if err := a.probePortal(out); err != nil {
			problems = append(problems, err)
		}
	}
	for i, d := range a.dialers {
		name := a.cfg.Domains[i].Name
		if err := d.Probe(ctx); err != nil {
			problems = append(problems, fmt.Errorf("upstream of %s: %w", name, err))
			fmt.Fprintf(out, "upstream %s (%s): NOT ANSWERING: %v\n", name, a.cfg.Domains[i].Upstream.Address, err)
		} else {
			fmt.Fprintf(out, "upstream %s (%s): answers\n", name, a.cfg.Domains[i].Upstream.Address)
		}
		d.Close()
	}
	return errors.Join(problems...)
}

// WaitReady blocks until the IdP metadata (and keys, where needed) is loaded.
func (a *App) WaitReady(ctx context.Context) error { return a.oauth.WaitReady(ctx) }
