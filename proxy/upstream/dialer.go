package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Dialer logs users in to the upstream server. It is safe for concurrent use.
type Dialer struct {
	cfg         Config
	log         zerolog.Logger
	tlsSessions tls.ClientSessionCache // resumption, where the upstream offers it (stock Prosody does not)
	tlsDirect   *tls.Config
	tlsStartTLS *tls.Config
	scram       *scramClients
	admin       *adminSession // managed credentials only
	startOnce   sync.Once

	noQuickAck bool                    // benchmarks: measure the login without the TCP_QUICKACK cure
	wrapConn   func(net.Conn) net.Conn // tests: observe the raw connection
	// naive (benchmarks): no pipelining, no TLS resumption, no SCRAM key cache:
	// the baseline the optimisations are measured against.
	naive bool
	// onCommand, when set, sees every XEP-0050 command the admin session runs (tests).
	onCommand func(node string)
	reserved  map[string]bool // canonical localparts never logged in as
}

// New validates cfg and returns a Dialer. It starts nothing on the network.
func New(cfg Config) (*Dialer, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	d := &Dialer{
		cfg:         cfg,
		log:         cfg.Logger.With().Str("component", "upstream").Logger(),
		tlsSessions: tls.NewLRUClientSessionCache(256),
		scram:       newScramClients(scramCacheSize),
	}
	d.tlsDirect, d.tlsStartTLS = d.newTLSConfig(true), d.newTLSConfig(false)
	d.reserved = reservedSet(cfg)
	if cfg.Credentials == CredManaged {
		d.admin = newAdminSession(d)
	}
	return d, nil
}

// Start keeps the admin session (managed credentials) connected in the background,
// reconnecting with backoff, until ctx ends or Close. Calling it is optional: Login
// connects the admin session on first need.
func (d *Dialer) Start(ctx context.Context) {
	if d.admin != nil {
		d.startOnce.Do(func() { go d.admin.run(ctx) })
	}
}

// Close stops the admin session. Sessions already handed out are not affected.
func (d *Dialer) Close() error {
	if d.admin != nil {
		d.admin.close()
	}
	return nil
}

// Probe dials the upstream, negotiates TLS, opens a stream and reads its features:
// is the upstream answering? Errors wrap ErrUnavailable.
func (d *Dialer) Probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.LoginTimeout)
	defer cancel()
	w, f, err := d.connect(ctx)
	if err != nil {
		return err
	}
	defer w.close()
	_ = w.write("</stream:stream>")
	if len(f.Mechanisms) == 0 {
		return fmt.Errorf("%w: upstream offers no SASL mechanisms", ErrUnavailable)
	}
	return nil
}

// Login logs in upstream as the user c describes, up to the upstream's <success/>,
// and hands the connection over. Errors wrap ErrUnavailable (upstream unreachable,
// misbehaving or misconfigured) or ErrRejected (the upstream refused this user).
func (d *Dialer) Login(ctx context.Context, c Credentials) (*Session, error) {
	if err := d.checkUsername(c.Username); err != nil {
		d.log.Warn().Err(err).Str("user", c.Username).Msg("upstream login refused")
		return nil, fmt.Errorf("%w: %w", ErrRejected, err)
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.LoginTimeout)
	defer cancel()
	start := time.Now()
	var s *Session
	var err error
	switch d.cfg.Credentials {
	case CredManaged:
		s, err = d.loginManaged(ctx, c.Username)
	case CredPassthrough:
		if c.Password == "" {
			return nil, fmt.Errorf("%w: no password to pass through", ErrRejected)
		}
		s, err = d.loginPassword(ctx, c.Username, c.Password)
	case CredToken:
		if c.Token == "" {
			return nil, fmt.Errorf("%w: no token to pass on", ErrRejected)
		}
		s, err = d.loginToken(ctx, c.Username, c.Token)
	}
	ev := d.log.Debug()
	switch {
	case errors.Is(err, ErrUnavailable):
		ev = d.log.Warn().Err(err) // the operator's to look at
	case err != nil:
		ev = d.log.Info().Err(err)
	}
	ev.Str("user", c.Username).Dur("took", time.Since(start)).Msg("upstream login")
	return s, err
}

// loginManaged logs in with the derived secret; if the upstream refuses it, sets it
// through XEP-0133 (creating the account if allowed) and tries once more.
func (d *Dialer) loginManaged(ctx context.Context, user string) (*Session, error) {
	jid := user + "@" + d.cfg.Domain // user: canonical (checkUsername); Domain: lower-cased
	pw := managedPassword(d.cfg.SecretKey, jid)
	s, err := d.loginPassword(ctx, user, pw)
	if err == nil || !errors.Is(err, errNotAuthorized) {
		return s, err
	}
	d.log.Info().Str("user", user).Msg("upstream refused the managed secret; provisioning the account")
	err = d.provision(ctx, jid, pw)
	if errors.Is(err, errAccountExists) {
		// Another login (here, after our shared provisioning ended, or on another
		// replica) may have just created it with the managed secret: ask again.
		s, err = d.loginPassword(ctx, user, pw)
		if err == nil || !errors.Is(err, errNotAuthorized) {
			return s, err
		}
		d.provisioned("take-over-refused", nil)
		d.log.Warn().Str("jid", jid).Msg("upstream account exists but does not accept the managed secret; not taking it over (upstream.take_over_existing is off)")
		return nil, fmt.Errorf("%w: upstream account exists and take_over_existing is off", ErrRejected)
	}
	if err != nil {
		return nil, err
	}
	return d.loginPassword(ctx, user, pw)
}

// loginPassword logs in with SCRAM (or PLAIN where safe) and hands the stream over.
func (d *Dialer) loginPassword(ctx context.Context, user, password string) (*Session, error) {
	w, f, pre, err := d.open(ctx)
	if err != nil {
		return nil, err
	}
	m, err := d.passwordMech(f, w.secure, user, password)
	if err == nil {
		err = authenticate(w, m)
	}
	if err != nil {
		w.close()
		if pre && staleConn(err) {
			return d.loginPassword(ctx, user, password) // the pre-connection is taken: this one dials
		}
		return nil, err
	}
	return handoff(w)
}

func (d *Dialer) passwordMech(f *features, secure bool, user, password string) (mechanism, error) {
	name, err := passwordMechanism(f.Mechanisms, secure)
	if err != nil {
		return nil, err
	}
	if name == "PLAIN" {
		return &plainMech{user: user, password: password}, nil
	}
	scram := d.scram
	if d.naive {
		scram = newScramClients(1)
	}
	c, err := scram.get(name, user, password)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRejected, err)
	}
	return &scramMech{mech: name, conv: c.NewConversation()}, nil
}

// loginToken logs in with SASL OAUTHBEARER, passing the user's access token on.
func (d *Dialer) loginToken(ctx context.Context, user, token string) (*Session, error) {
	w, f, pre, err := d.open(ctx)
	if err != nil {
		return nil, err
	}
	if !w.secure {
		w.close()
		return nil, fmt.Errorf("%w: refusing to send a token without TLS", ErrUnavailable)
	}
	if !slices.Contains(f.Mechanisms, "OAUTHBEARER") {
		w.close()
		return nil, fmt.Errorf("%w: upstream does not offer OAUTHBEARER", ErrUnavailable)
	}
	if err := authenticate(w, &oauthBearerMech{jid: user + "@" + d.cfg.Domain, token: token}); err != nil {
		w.close()
		if pre && staleConn(err) {
			return d.loginToken(ctx, user, token)
		}
		return nil, err
	}
	return handoff(w)
}

// handoff returns the stream at the restart point with whatever was read past <success/>.
func handoff(w *wire) (*Session, error) {
	buf, err := w.r.leftover()
	if err != nil {
		w.close()
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	conn, err := w.release()
	if err != nil {
		return nil, err
	}
	return &Session{Conn: conn, Buffered: buf}, nil
}

// errReserved: the IdP named an account the proxy must never become (an admin).
var errReserved = errors.New("username is reserved (an administrative upstream account)")

// checkUsername lets through only a username that is the upstream's own
// canonical form of the localpart and names no reserved account.
func (d *Dialer) checkUsername(u string) error {
	if err := checkLocalpart(u); err != nil {
		return err
	}
	canon, err := canonicalLocalpart(u)
	if err != nil {
		return err
	}
	if d.reserved[canon] {
		return errReserved
	}
	return nil
}

// reservedSet is cfg's reserved localparts and the admin's, compared in the
// upstream's canonical form (a reserved name that is not canonical is kept as
// written, lower-cased: it can never match a canonical username anyway).
func reservedSet(cfg Config) map[string]bool {
	names := slices.Clone(cfg.ReservedUsernames)
	if local, _, err := splitJID(cfg.AdminJID); err == nil {
		names = append(names, local)
	}
	set := make(map[string]bool, len(names))
	for _, n := range names {
		if c, err := nodeprepProfile.Prepare(n); err == nil {
			set[c] = true
		}
		set[strings.ToLower(n)] = true
	}
	return set
}

// checkLocalpart refuses usernames that would change meaning inside a JID, an XML
// attribute or a SASL message. The proxy normalises them before; this is the guard.
func checkLocalpart(u string) error {
	if u == "" || len(u) > 1023 {
		return errors.New("bad username length")
	}
	if strings.ContainsAny(u, "@/\"&'<>:\x00 \t\r\n") {
		return errors.New("username has characters not allowed in a localpart")
	}
	return nil
}
