package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/proxy/upstream"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// Upstream logs a user in to the upstream server, up to its <success/>.
// *upstream.Dialer satisfies it. Errors wrap upstream.ErrUnavailable or
// upstream.ErrRejected.
type Upstream interface {
	Login(ctx context.Context, c upstream.Credentials) (*upstream.Session, error)
}

// CertificateSource hands out the certificate for a TLS handshake. It is asked on
// every handshake, so it may be swapped behind the scenes (reload on SIGHUP).
// For STARTTLS without SNI, ServerName is set to the stream's 'to' domain.
type CertificateSource interface {
	GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
}

// CertificateFunc adapts a function to CertificateSource.
type CertificateFunc func(*tls.ClientHelloInfo) (*tls.Certificate, error)

// GetCertificate calls f.
func (f CertificateFunc) GetCertificate(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return f(h)
}

// Domain is one XMPP domain the proxy serves.
type Domain struct {
	// Name is the domain as clients put it in the stream's 'to'; compared case-insensitively.
	Name string
	// SASL says which mechanisms are offered; SASL.Domain defaults to Name.
	SASL saslauth.Config
	// Upstream logs users of this domain in upstream.
	Upstream Upstream
	// FAST mints XEP-0484 tokens; with SASL.FAST set, SASL2 offers FAST.
	FAST FASTTokens
}

// Config configures a Server. Zero values of the limits mean their defaults.
type Config struct {
	Domains      []Domain
	Certificates CertificateSource
	// PreAuthTimeout bounds everything before <success/>: TLS, SASL, the upstream login.
	// Default 30s.
	PreAuthTimeout time.Duration
	// MaxElementBytes bounds any single pre-auth element. Default 65536 (JWTs are big).
	MaxElementBytes int
	// MaxAuthAttempts is how many failed SASL exchanges a connection gets before
	// a policy-violation stream error. Default 3.
	MaxAuthAttempts int
	// WriteTimeout bounds every single write to a peer, also while relaying. Default 30s.
	WriteTimeout time.Duration
	// Limits bound connections and failed logins.
	Limits Limits
	// Observer receives metrics events; nil means none.
	Observer Observer
	Logger   zerolog.Logger
	// SessionChecker, with SessionRecheck > 0, re-checks relayed sessions of
	// password and token logins at that interval and ends those the IdP no
	// longer vouches for. SessionRecheckTimeout bounds one check (default 10s).
	SessionChecker        SessionChecker
	SessionRecheck        time.Duration
	SessionRecheckTimeout time.Duration
}

// Defaults of Config.
const (
	DefaultPreAuthTimeout  = 30 * time.Second
	DefaultMaxElementBytes = 65536
	DefaultMaxAuthAttempts = 3
	DefaultWriteTimeout    = 30 * time.Second
)

// ErrConfig marks an invalid Config.
var ErrConfig = errors.New("proxy: invalid config")

// Server serves XMPP client connections. It is safe for concurrent use.
type Server struct {
	cfg     Config
	domains map[string]*Domain
	log     zerolog.Logger

	directTLS, starttlsTLS *tls.Config
	refusing               atomic.Int32 // refused connections being answered
	certConfigs            certConfigs  // TLS configs per certificate (endpoint.go)

	// base is the parent of every connection's context; cancelled once all is over.
	base       context.Context
	cancelBase context.CancelFunc

	mu        sync.Mutex
	closing   bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	admission *admission
	wg        sync.WaitGroup // connection and relay goroutines
	live      liveSessions   // relayed sessions by credential, for revocation
}

// New checks cfg and returns a Server that is not serving yet.
func New(cfg Config) (*Server, error) {
	if cfg.PreAuthTimeout <= 0 {
		cfg.PreAuthTimeout = DefaultPreAuthTimeout
	}
	if cfg.MaxElementBytes <= 0 {
		cfg.MaxElementBytes = DefaultMaxElementBytes
	}
	if cfg.MaxAuthAttempts <= 0 {
		cfg.MaxAuthAttempts = DefaultMaxAuthAttempts
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	cfg.Limits.setDefaults()
	if b := cfg.Limits.IPv6PrefixBits; b < 1 || b > 128 {
		return nil, fmt.Errorf("%w: IPv6 prefix of %d bits", ErrConfig, b)
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	guard := newLoginGuard(&cfg.Limits)
	if cfg.Certificates == nil {
		return nil, fmt.Errorf("%w: no certificate source", ErrConfig)
	}
	if len(cfg.Domains) == 0 {
		return nil, fmt.Errorf("%w: no domains", ErrConfig)
	}
	domains := make(map[string]*Domain, len(cfg.Domains))
	for i := range cfg.Domains {
		d := cfg.Domains[i] // a copy: the caller's slice may change
		name := normDomain(d.Name)
		switch {
		case name == "":
			return nil, fmt.Errorf("%w: empty domain name", ErrConfig)
		case domains[name] != nil:
			return nil, fmt.Errorf("%w: domain %q twice", ErrConfig, name)
		case d.Upstream == nil:
			return nil, fmt.Errorf("%w: domain %q has no upstream", ErrConfig, name)
		case len(d.SASL.Mechanisms()) == 0:
			return nil, fmt.Errorf("%w: domain %q offers no SASL mechanism", ErrConfig, name)
		}
		if d.SASL.Domain == "" {
			d.SASL.Domain = name
		}
		if normDomain(d.SASL.Domain) != name {
			return nil, fmt.Errorf("%w: domain %q has SASL domain %q", ErrConfig, name, d.SASL.Domain)
		}
		d.Name = name
		if d.SASL.Authenticator != nil {
			d.SASL.Authenticator = guardedAuthenticator{inner: d.SASL.Authenticator, guard: guard, observer: cfg.Observer}
		}
		if d.SASL.FAST != nil {
			d.SASL.FAST = guardedFAST{inner: d.SASL.FAST, g: guardedAuthenticator{guard: guard, observer: cfg.Observer}}
		}
		if d.SASL.SCRAM != nil {
			d.SASL.SCRAM = guardedSCRAM{inner: d.SASL.SCRAM, g: guardedAuthenticator{guard: guard, observer: cfg.Observer}}
		}
		domains[name] = &d
	}
	base, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:        cfg,
		domains:    domains,
		log:        cfg.Logger,
		base:       base,
		cancelBase: cancel,
		listeners:  make(map[net.Listener]struct{}),
		conns:      make(map[*conn]struct{}),
		admission:  newAdmission(&cfg.Limits),
	}
	s.directTLS, s.starttlsTLS = s.tlsConfigs()
	if cfg.SessionChecker != nil && cfg.SessionRecheck > 0 {
		if s.cfg.SessionRecheckTimeout <= 0 {
			s.cfg.SessionRecheckTimeout = 10 * time.Second
		}
		go s.recheckLoop(base)
	}
	return s, nil
}

func normDomain(s string) string { return strings.ToLower(strings.TrimSuffix(s, ".")) }

// Serve accepts connections on ln until ctx is done, ln is closed, or Shutdown.
// directTLS says whether clients start with a TLS handshake (XEP-0368) or with a
// plaintext stream and STARTTLS. ctx governs only the accepting: connections live on
// until they end or Shutdown ends them. Other accept errors (EMFILE...) are retried
// after a pause. Serve closes ln. It returns nil when stopped by ctx or Shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener, directTLS bool) error {
	if !s.addListener(ln) {
		return nil
	}
	defer s.removeListener(ln)

	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
			ln.Close()
		case <-stop:
		}
	}()

	var backoff acceptBackoff
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || s.isClosing() {
				return nil
			}
			if backoff.retry(ctx, s.log, err) {
				continue
			}
			if ctx.Err() != nil {
				return nil
			}
			ln.Close()
			return err
		}
		backoff.reset()
		c := newConn(s, nc, directTLS)
		switch s.track(c) {
		case closing:
			nc.Close()
			return nil
		case refused:
			continue
		}
		go c.serve()
	}
}

// addListener registers ln for Shutdown to close; false (and ln closed) when
// Shutdown has begun.
func (s *Server) addListener(ln net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		ln.Close()
		return false
	}
	s.listeners[ln] = struct{}{}
	return true
}

func (s *Server) removeListener(ln net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.listeners, ln)
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

type trackResult int

const (
	tracked trackResult = iota
	refused             // a limit turned c away; it is being answered
	closing             // Shutdown has begun
)

// track registers c and counts its goroutine, unless a limit refuses it: then its
// answer is under way and c is not counted anywhere.
func (s *Server) track(c *conn) trackResult {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return closing
	}
	se, reason := s.admission.admit(len(s.conns), c.client)
	if se == nil {
		c.preAuthSlot = true
		s.conns[c] = struct{}{}
	}
	answer := se == nil || s.refusing.Add(1) <= maxRefusing
	if answer {
		s.wg.Add(1) // under s.mu: Shutdown's wait sees it
	} else {
		s.refusing.Add(-1) // too many being answered: this one is just closed
	}
	s.mu.Unlock()

	if se == nil {
		s.cfg.Observer.ConnOpened(c.listenerName())
		return tracked
	}
	c.cancel()
	s.cfg.Observer.Refused(reason)
	c.log.Info().Str("stream_error", se.cond).AnErr("cause", se.cause).Msg("connection refused")
	if answer {
		go s.answerRefusal(c.raw, c.directTLS, se)
	} else {
		c.raw.Close()
	}
	return refused
}

// leavePreAuth gives back c's pre-auth slot, once.
func (s *Server) leavePreAuth(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leavePreAuthLocked(c)
}

func (s *Server) leavePreAuthLocked(c *conn) {
	if c.preAuthSlot {
		c.preAuthSlot = false
		s.admission.release(c.client)
	}
}

// untrack forgets c and ends the count of its goroutine.
func (s *Server) untrack(c *conn) {
	s.forget(c)
	s.wg.Done()
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	_, open := s.conns[c]
	delete(s.conns, c)
	s.leavePreAuthLocked(c)
	s.mu.Unlock()
	if open {
		s.cfg.Observer.ConnClosed(c.listenerName())
	}
}

// Shutdown stops accepting, ends pre-auth connections with a system-shutdown stream
// error, and lets relayed sessions drain until ctx is done; then it ends those with
// system-shutdown too. It returns when every connection goroutine is gone: nil if the
// sessions drained by themselves, ctx.Err() if they had to be cut.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	conns := s.snapshotLocked()
	s.mu.Unlock()

	for _, c := range conns {
		c.shutdownPreAuth()
	}

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		s.mu.Lock()
		conns = s.snapshotLocked()
		s.mu.Unlock()
		for _, c := range conns {
			c.shutdownNow()
		}
		<-done // every network call has a deadline, so this ends
	}
	s.cancelBase()
	return err
}

func (s *Server) snapshotLocked() []*conn {
	cs := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	return cs
}
