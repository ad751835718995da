package proxy

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

const (
	// readBufSize is the pre-auth read buffer; it is dropped at the handoff.
	readBufSize = 4 << 10
	// maxPreAuthElements bounds the first-level elements one connection may send
	// before <success/>, whatever they are.
	maxPreAuthElements = 64
	// finalWriteTimeout bounds the last write of a stream error or closing tag.
	finalWriteTimeout = 2 * time.Second
)

type connState int

const (
	statePreAuth connState = iota
	stateRelay
)

// conn is one client connection. Its goroutine runs serve; after the handoff it also
// runs one direction of the relay.
type conn struct {
	s         *Server
	raw       net.Conn // the accepted socket
	nc        net.Conn // raw, or the *tls.Conn over it
	directTLS bool
	websocket bool // RFC 7395 (wsconn.go); raw is then a *wsConn
	tlsDone   bool // TLS is up
	// tlsEndPoint: RFC 5929 tls-server-end-point of the TLS session, nil if unknown.
	tlsEndPoint []byte
	// wsMaxStanza: a WebSocket's message limit once logged in.
	wsMaxStanza int
	// handshaking: a TLS handshake began and did not finish; the peer expects TLS
	// records, so nothing may be written in plaintext any more.
	handshaking bool
	headerSent  bool // our header of the current stream went out (next to the other bool: no padding)
	id          string
	log         zerolog.Logger
	deadline    time.Time // end of the pre-auth phase
	ctx         context.Context
	cancel      context.CancelFunc

	// Pre-auth stream state; nil after the handoff.
	br       *bufio.Reader
	sr       *streamReader
	streamID string
	domain   *Domain
	sni      string // Direct TLS server name, the domain when 'to' is missing
	elements int
	failures int
	mech     string              // mechanism of the last <auth/>, for logs
	sasl2    bool                // the last SASL element was SASL2's (XEP-0388)
	fastIn   *saslauth.FASTInput // the current exchange is a FAST token login
	agent    string              // the current SASL2 exchange's user-agent software and device
	// configVersion is the XEP-0509 version of the features this stream got.
	configVersion string
	iapMismatches int
	// pre is the upstream connection opened while the client authenticates
	// (preconnect.go); nil until one is tried, at most one per connection.
	pre *preconn

	remoteIP netip.Addr
	client   netip.Prefix // remoteIP as per-client limits see it
	// preAuthSlot: c counts against the pre-auth limits. Guarded by Server.mu.
	preAuthSlot bool

	mu       sync.Mutex // guards state, shutdown, relay
	state    connState
	shutdown bool
	relay    *relay
}

func newConn(s *Server, nc net.Conn, directTLS bool) *conn {
	c := &conn{s: s, raw: nc, nc: nc, directTLS: directTLS, id: randomID(6)}
	c.deadline = time.Now().Add(s.cfg.PreAuthTimeout)
	// The deadline is set before the goroutine starts, so that a Shutdown that
	// shortens it cannot be overwritten.
	_ = nc.SetDeadline(c.deadline)
	c.ctx, c.cancel = context.WithDeadline(withRemoteIP(s.base, nc.RemoteAddr()), c.deadline)
	c.remoteIP = remoteIP(c.ctx)
	if c.remoteIP.IsValid() {
		c.client = clientKey(c.remoteIP, s.cfg.Limits.IPv6PrefixBits)
	}
	c.log = s.log.With().Str("conn", c.id).Str("remote", nc.RemoteAddr().String()).Bool("direct_tls", directTLS).Logger()
	return c
}

// randomID returns n random bytes in hex.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

func newStreamID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// serve is the connection's whole life.
// Once the session is relayed, this goroutine ends: the relay runs in two fresh
// goroutines whose stacks did not grow through TLS handshakes and XML parsing.
func (c *conn) serve() {
	defer c.cancel()
	c.log.Debug().Msg("accepted")
	login, err := c.preAuth()
	if err != nil {
		c.end(err)
		c.s.untrack(c)
		return
	}
	if !c.handoff(login) {
		c.s.untrack(c)
	}
}

// preAuth runs TLS, the streams and SASL up to a successful upstream login.
func (c *conn) preAuth() (*loginResult, error) {
	if c.directTLS {
		if err := c.handshake(""); err != nil {
			return nil, closeQuietly("tls handshake", err)
		}
	}
	c.br = bufio.NewReaderSize(c.nc, readBufSize)
	if !c.tlsDone {
		if err := c.startTLS(); err != nil {
			return nil, err
		}
	}
	if err := c.openStream(); err != nil {
		return nil, err
	}
	if err := c.write(c.featuresAuth()); err != nil {
		return nil, err
	}
	return c.authenticate()
}

// startTLS runs the plaintext stream, which offers STARTTLS and nothing else.
func (c *conn) startTLS() error {
	if err := c.openStream(); err != nil {
		return err
	}
	if err := c.write(featuresStartTLS()); err != nil {
		return err
	}
	el, err := c.next(isStartTLS)
	if err != nil {
		return err
	}
	if !isStartTLS(el.name) {
		return &streamErr{cond: condPolicyViolation, text: "STARTTLS is required", cause: errors.New("element before starttls: " + el.name.Local)}
	}
	if !discardWhitespace(c.br) {
		// Plaintext pipelined after <starttls/> must never be read as if it came
		// through TLS (the STARTTLS command injection attack). Whitespace is
		// harmless and common (clients end each element with a newline).
		return &streamErr{cond: condPolicyViolation, cause: errors.New("data after starttls")}
	}
	if err := c.write([]byte(tlsProceed)); err != nil {
		return err
	}
	if err := c.handshake(c.domain.Name); err != nil {
		return closeQuietly("tls handshake", err)
	}
	c.br.Reset(c.nc)
	return nil
}

// openStream reads the client's stream header, checks it, and answers with ours.
func (c *conn) openStream() error {
	c.sr = newStreamReader(c.br, c.s.cfg.MaxElementBytes)
	c.headerSent = false
	c.streamID = newStreamID()
	hdr, err := c.sr.header()
	if err != nil {
		return err
	}
	var to, version, ns string
	var hasNS bool
	for _, a := range hdr.Attr {
		switch {
		case a.Name.Space == "" && a.Name.Local == "to":
			to = a.Value
		case a.Name.Space == "" && a.Name.Local == "version":
			version = a.Value
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			ns, hasNS = a.Value, true
		}
	}
	if to == "" {
		to = c.sni
	}
	d := c.s.domains[normDomain(to)]
	if d == nil || c.domain != nil && d != c.domain {
		return &streamErr{cond: condHostUnknown, cause: errors.New("unknown domain")}
	}
	c.domain = d
	c.preconnect(d)
	c.log = c.log.With().Str("domain", d.Name).Logger()
	if hdr.Name.Space != nsStream || hdr.Name.Local != "stream" || !hasNS || ns != nsClient {
		return &streamErr{cond: condInvalidNamespace}
	}
	if !strings.HasPrefix(version, "1.") {
		return &streamErr{cond: condUnsupportedVersion, text: "version 1.0 is required"}
	}
	c.headerSent = true
	return c.write(streamHeader(d.Name, c.streamID))
}

// next reads the next first-level element, counting it against the pre-auth bound.
// want is the set of elements it reads whole; others come back with just their name.
func (c *conn) next(want func(xml.Name) bool) (*element, error) {
	if c.elements >= maxPreAuthElements {
		return nil, &streamErr{cond: condPolicyViolation, text: "too many elements before authentication"}
	}
	c.elements++
	return c.sr.next(want)
}

func isStartTLS(n xml.Name) bool { return n.Space == nsTLS && n.Local == "starttls" }

// write sends b under the pre-auth deadline.
func (c *conn) write(b []byte) error {
	if _, err := c.nc.Write(b); err != nil {
		return closeQuietly("write", err)
	}
	return nil
}

// streamErr ends the stream with a stream error (RFC 6120 section 4.9).
type streamErr struct {
	cond  string
	text  string // sent to the client
	cause error  // logged only
}

func (e *streamErr) Error() string {
	if e.cause != nil {
		return "stream error " + e.cond + ": " + e.cause.Error()
	}
	return "stream error " + e.cond
}

// quietErr ends the connection without a word: the peer cannot hear us any more
// (TLS broken, socket closed) or it closed its stream and got our closing tag.
type quietErr struct {
	op  string
	err error
}

func (e *quietErr) Error() string { return e.op + ": " + e.err.Error() }
func (e *quietErr) Unwrap() error { return e.err }

func closeQuietly(op string, err error) error { return &quietErr{op: op, err: err} }

// netReadErr marks an error of the socket under the XML decoder (xmlin.go).
type netReadErr struct{ err error }

func (e *netReadErr) Error() string { return "read: " + e.err.Error() }
func (e *netReadErr) Unwrap() error { return e.err }

// classify turns an error of the pre-auth phase into what the client gets.
func (c *conn) classify(err error) *streamErr {
	var se *streamErr
	var qe *quietErr
	var ne *netReadErr
	switch {
	case c.isShutdown():
		return &streamErr{cond: condSystemShutdown, cause: err}
	case errors.As(err, &se):
		return se
	case errors.As(err, &qe):
		return nil
	case errors.Is(err, errStreamEnded):
		return nil
	case errors.Is(err, errTooBig):
		return &streamErr{cond: condPolicyViolation, text: "element too big", cause: err}
	case errors.Is(err, errTooDeep), errors.Is(err, errManyAttrs):
		return &streamErr{cond: condPolicyViolation, text: err.Error(), cause: err}
	case errors.Is(err, errDupAttr):
		return &streamErr{cond: condNotWellFormed, text: err.Error(), cause: err}
	case errors.Is(err, errRestricted):
		return &streamErr{cond: condRestrictedXML, cause: err}
	case errors.Is(err, errStreamText):
		return &streamErr{cond: condBadFormat, cause: err}
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return &streamErr{cond: condConnectionTimeout, cause: err}
	case errors.As(err, &ne):
		return nil // closed or reset: nobody to tell
	}
	return &streamErr{cond: condNotWellFormed, cause: err}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// end finishes a connection whose pre-auth phase failed.
func (c *conn) end(err error) {
	defer c.raw.Close()
	c.dropPreconn()
	if errors.Is(err, errStreamEnded) {
		c.log.Debug().Msg("client closed its stream")
		_ = c.raw.SetWriteDeadline(time.Now().Add(finalWriteTimeout))
		_, _ = c.nc.Write([]byte(streamClose))
		return
	}
	se := c.classify(err)
	if se == nil || c.handshaking {
		c.log.Debug().Err(err).Msg("connection ended")
		return
	}
	c.log.Info().Str("stream_error", se.cond).AnErr("cause", se.cause).Msg("connection ended")
	c.s.cfg.Observer.StreamError(se.cond)
	var b []byte
	if !c.headerSent {
		// RFC 6120 section 4.9.1.3: even an error answers the header with ours.
		from := ""
		if c.domain != nil {
			from = c.domain.Name
		}
		if c.streamID == "" {
			c.streamID = newStreamID()
		}
		b = streamHeader(from, c.streamID)
	}
	b = append(b, streamError(se.cond, se.text)...)
	_ = c.raw.SetWriteDeadline(time.Now().Add(finalWriteTimeout))
	_, _ = c.nc.Write(b)
}

func (c *conn) isShutdown() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.shutdown
}

// shutdownPreAuth interrupts a connection that has not reached the relay: its next
// (or current) read fails, its context ends, and end sends system-shutdown.
func (c *conn) shutdownPreAuth() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shutdown = true
	if c.state == statePreAuth {
		c.cancel()
		_ = c.raw.SetReadDeadline(time.Now())
	}
}

// shutdownNow also ends a relayed session.
func (c *conn) shutdownNow() {
	c.shutdownPreAuth()
	c.mu.Lock()
	r := c.relay
	c.mu.Unlock()
	if r != nil {
		r.shutdownNow()
	}
}

// discardWhitespace drops buffered XML whitespace and reports whether nothing
// else was buffered.
func discardWhitespace(br *bufio.Reader) bool {
	for br.Buffered() > 0 {
		b, _ := br.Peek(1)
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			br.Discard(1)
		default:
			return false
		}
	}
	return true
}
