package proxy

import (
	"context"
	"crypto/tls"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/tlsrecord"
)

// alpnXMPPClient is the XEP-0368 protocol name for Direct TLS.
const alpnXMPPClient = "xmpp-client"

// tlsConfigs builds the two shared configs. Certificates are asked for on every
// handshake, never copied, so that a reloaded certificate takes effect at once.
func (s *Server) tlsConfigs() (direct, starttls *tls.Config) {
	direct = &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{alpnXMPPClient},
		GetCertificate: s.getCertificate,
	}
	starttls = &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: s.getCertificate,
	}
	direct.GetConfigForClient = s.configForClient(direct)
	starttls.GetConfigForClient = s.configForClient(starttls)
	return direct, starttls
}

// getCertificate picks by SNI. A STARTTLS client without SNI gets the
// certificate of the domain its stream asked for (tlsHandshake).
func (s *Server) getCertificate(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cfg.Certificates.GetCertificate(h)
}

// handshake runs the server side of TLS on c.raw under the pre-auth deadline.
// domain is the stream's domain for STARTTLS, "" for Direct TLS.
func (c *conn) handshake(domain string) error {
	rc := &tlsrecord.Conn{Conn: c.raw}
	base := c.s.directTLS
	if domain != "" {
		base = c.s.starttlsTLS
	}
	c.handshaking = true // from here on, a failure must not be answered in plaintext
	tc := tls.Server(rc, base)
	// configForClient finds c through the handshake's context.
	if err := tc.HandshakeContext(context.WithValue(c.ctx, handshakeKey{}, c)); err != nil {
		return err
	}
	c.nc = tc
	c.tlsDone = true
	c.handshaking = false
	st := tc.ConnectionState()
	c.log = c.log.With().Str("tls", tls.VersionName(st.Version)).Logger()
	if domain == "" && st.ServerName != "" {
		c.sni = normDomain(st.ServerName)
	}
	return nil
}

// SetSessionTicketKeys makes every listener encrypt TLS session tickets with
// keys[0] and accept tickets under any of keys: replicas that share the keys
// resume each other's clients. Safe while serving (SIGHUP rotation).
func (s *Server) SetSessionTicketKeys(keys [][32]byte) {
	if len(keys) == 0 {
		return
	}
	s.directTLS.SetSessionTicketKeys(keys)
	s.starttlsTLS.SetSessionTicketKeys(keys)
}
