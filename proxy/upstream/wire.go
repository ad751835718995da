package upstream

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/tlsrecord"
	"net"
	"strings"
	"time"
)

// features is the part of <stream:features/> the login looks at.
type features struct {
	StartTLS   *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-tls starttls"`
	Mechanisms []string  `xml:"urn:ietf:params:xml:ns:xmpp-sasl mechanisms>mechanism"`
	Bind       *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-bind bind"`
}

// wire is one upstream connection during negotiation.
type wire struct {
	conn   net.Conn // TLS conn once negotiated
	r      *xmlReader
	secure bool // TLS is up, or the address is loopback
	stop   func() bool
}

// streamHeader is the opening of a client stream to domain.
func streamHeader(domain string) string {
	var b strings.Builder
	b.WriteString("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='")
	_ = xml.EscapeText(&b, []byte(domain))
	b.WriteString("' version='1.0'>")
	return b.String()
}

// connect dials the upstream, negotiates TLS per cfg.TLSMode, opens the stream and
// returns its features. The connection's deadline follows ctx until close or release.
func (d *Dialer) connect(ctx context.Context) (*wire, *features, error) {
	cfg := &d.cfg
	nd := net.Dialer{Timeout: cfg.DialTimeout}
	raw, err := nd.DialContext(ctx, "tcp", cfg.Address)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: dial: %w", ErrUnavailable, err)
	}
	w := &wire{conn: withQuickAck(raw, !d.noQuickAck)}
	if d.wrapConn != nil {
		w.conn = d.wrapConn(w.conn)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	// Cancelling ctx unblocks reads and writes at once.
	w.stop = context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	if d.cfg.SendProxyHeader {
		if err := writeProxyHeader(ctx, raw); err != nil {
			w.close()
			return nil, nil, err
		}
	}

	f, err := d.negotiate(w)
	if err != nil {
		w.close()
		if errors.Is(err, ErrUnavailable) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return w, f, nil
}

func (d *Dialer) negotiate(w *wire) (*features, error) {
	cfg := &d.cfg
	host, _, _ := net.SplitHostPort(cfg.Address)
	header := streamHeader(cfg.Domain)
	switch cfg.TLSMode {
	case TLSDirect:
		tc := tls.Client(&tlsrecord.Conn{Conn: w.conn}, d.tlsConfig(true))
		if err := tc.Handshake(); err != nil {
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		w.conn, w.secure = tc, true
	case TLSStartTLS:
		// The <starttls/> rides with the header: RFC 6120 lets the client send it
		// once features arrive, and Prosody reads it after sending them. We insist
		// on TLS anyway, so there is nothing to decide first.
		first := header + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
		if d.naive {
			first = header
		}
		if err := w.write(first); err != nil {
			return nil, err
		}
		r := newXMLReader(w.conn)
		f, err := readFeatures(r)
		if err != nil {
			return nil, err
		}
		if d.naive && f.StartTLS != nil {
			if err := w.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"); err != nil {
				return nil, err
			}
		}
		if f.StartTLS == nil {
			return nil, errors.New("upstream does not offer STARTTLS")
		}
		se, err := r.next()
		if err != nil {
			return nil, err
		}
		if err := r.skip(); err != nil {
			return nil, err
		}
		if se.Name.Space != nsTLS || se.Name.Local != "proceed" {
			return nil, fmt.Errorf("starttls refused: <%s>", se.Name.Local)
		}
		if r.br.Buffered() != 0 { // bytes injected before TLS must not count as inside it
			return nil, errors.New("data after <proceed/>")
		}
		tc := tls.Client(&tlsrecord.Conn{Conn: w.conn}, d.tlsConfig(false))
		if err := tc.Handshake(); err != nil {
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		w.conn, w.secure = tc, true
	case TLSNone:
		w.secure = isLoopback(host)
	}
	if err := w.write(header); err != nil {
		return nil, err
	}
	w.r = newXMLReader(w.conn)
	return readFeatures(w.r)
}

// readFeatures reads the stream header and the features that follow it.
func readFeatures(r *xmlReader) (*features, error) {
	var f features
	if err := decodeFeatures(r, &f); err != nil {
		return nil, err
	}
	if len(f.Mechanisms) > 64 {
		return nil, errors.New("too many SASL mechanisms")
	}
	return &f, nil
}

// decodeFeatures reads the stream header and decodes the features into v.
func decodeFeatures(r *xmlReader, v any) error {
	if _, err := r.openStream(); err != nil {
		return err
	}
	se, err := r.next()
	if err != nil {
		return err
	}
	if se.Name.Space != nsStreams || se.Name.Local != "features" {
		return fmt.Errorf("expected stream features, got <%s>", se.Name.Local)
	}
	return r.decode(v, se)
}

func (d *Dialer) tlsConfig(direct bool) *tls.Config {
	if !d.naive {
		if direct {
			return d.tlsDirect // shared: a config per login would stay with each session
		}
		return d.tlsStartTLS
	}
	cfg := d.newTLSConfig(direct)
	cfg.ClientSessionCache = nil
	return cfg
}

func (d *Dialer) newTLSConfig(direct bool) *tls.Config {
	cfg := &tls.Config{
		ServerName:         d.cfg.ServerName,
		RootCAs:            d.cfg.RootCAs,
		MinVersion:         tls.VersionTLS12,
		ClientSessionCache: d.tlsSessions,
	}
	if direct {
		cfg.NextProtos = []string{"xmpp-client"}
	}
	return cfg
}

// release hands the connection over: no deadline, no cancel hook. It fails if the
// context ended meanwhile, as the cancel hook may be setting a past deadline.
func (w *wire) release() (net.Conn, error) {
	if !w.stop() {
		_ = w.conn.Close()
		return nil, fmt.Errorf("%w: login cancelled", ErrUnavailable)
	}
	if err := w.conn.SetDeadline(time.Time{}); err != nil {
		_ = w.conn.Close()
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return w.conn, nil
}

func (w *wire) close() {
	w.stop()
	_ = w.conn.Close()
}

// write sends s in one write.
func (w *wire) write(s string) error {
	_, err := w.conn.Write([]byte(s))
	return err
}
