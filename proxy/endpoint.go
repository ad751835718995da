package proxy

import (
	"bytes"
	"crypto"
	_ "crypto/sha256" // the hashes tls-server-end-point may name
	_ "crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"sync"
)

// tls-server-end-point (RFC 5929 §4.1) for HT-SHA-256-ENDP. crypto/tls does
// not tell a server which certificate its handshake sent, nor, for a resumed
// session, which one the original handshake sent. The shared config's
// GetConfigForClient picks the certificate and hands the handshake a config
// made for that certificate alone (certConfigs), so the end point is known;
// tickets carry it, and a ticket from another certificate is not resumed. No
// connection keeps a config of its own: an idle session pays nothing for it.

// handshakeKey carries the *conn into its handshake's ClientHelloInfo.Context.
type handshakeKey struct{}

// endpExtra marks the end point in a session ticket's extra data.
var endpExtra = []byte("xmpp-oauth-proxy tls-server-end-point\x00")

// maxCertConfigs bounds certConfigs; reloads make new certificates, and the
// cache starts afresh past this many.
const maxCertConfigs = 64

// certConfigs are the configs made per (shared config, certificate).
type certConfigs struct {
	mu sync.Mutex
	m  map[certConfigKey]*certConfig
}

// certConfigKey names a certificate by its leaf's bytes, not by the
// *tls.Certificate: a source may reuse the struct for a reloaded certificate.
type certConfigKey struct {
	base *tls.Config
	leaf *byte
}

type certConfig struct {
	cfg      *tls.Config
	endPoint []byte // nil: the certificate's signature names no hash (Ed25519)
}

// configForClient runs first in every handshake of the shared configs: it
// starts a Direct TLS pre-connect from the SNI, chooses the certificate (by
// SNI, or for a STARTTLS client without SNI by its stream's domain) and
// returns that certificate's config.
func (s *Server) configForClient(base *tls.Config) func(*tls.ClientHelloInfo) (*tls.Config, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		c, _ := hello.Context().Value(handshakeKey{}).(*conn)
		if c == nil {
			return nil, nil // not one of ours (base's GetCertificate serves it)
		}
		if c.directTLS && hello.ServerName != "" {
			c.preconnect(s.domains[normDomain(hello.ServerName)])
		}
		if hello.ServerName == "" && c.domain != nil {
			hh := *hello
			hh.ServerName = c.domain.Name
			hello = &hh
		}
		cert, err := s.cfg.Certificates.GetCertificate(hello)
		if err != nil || cert == nil || len(cert.Certificate) == 0 || len(cert.Certificate[0]) == 0 {
			return nil, err
		}
		cc := s.certConfigs.get(base, cert)
		c.tlsEndPoint = cc.endPoint
		return cc.cfg, nil
	}
}

func (cs *certConfigs) get(base *tls.Config, cert *tls.Certificate) *certConfig {
	key := certConfigKey{base, &cert.Certificate[0][0]}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cc, ok := cs.m[key]; ok {
		return cc
	}
	if cs.m == nil || len(cs.m) >= maxCertConfigs {
		cs.m = map[certConfigKey]*certConfig{}
	}
	cc := &certConfig{endPoint: serverEndPoint(cert)}
	cfg := base.Clone()
	cfg.Certificates = []tls.Certificate{*cert}
	cfg.GetCertificate, cfg.GetConfigForClient = nil, nil
	ep := cc.endPoint
	// Tickets go through base, whose keys SIGHUP rotates.
	cfg.WrapSession = func(st tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		if ep != nil {
			ss.Extra = append(ss.Extra, append(bytes.Clone(endpExtra), ep...))
		}
		return base.EncryptTicket(st, ss)
	}
	cfg.UnwrapSession = func(identity []byte, st tls.ConnectionState) (*tls.SessionState, error) {
		ss, err := base.DecryptTicket(identity, st)
		if ss == nil || err != nil {
			return ss, err
		}
		for _, e := range ss.Extra {
			if got, ok := bytes.CutPrefix(e, endpExtra); ok && ep != nil && bytes.Equal(got, ep) {
				return ss, nil
			}
		}
		// Made under another certificate (or without an end point): a full
		// handshake, so that the binding is this certificate's.
		return nil, nil
	}
	cc.cfg = cfg
	cs.m[key] = cc
	return cc
}

// serverEndPoint is RFC 5929 §4.1's hash of cert's leaf: SHA-256 when it is
// signed with MD5, SHA-1 or SHA-256, else its signature's hash; nil when the
// signature has no hash (Ed25519) or the certificate cannot be read.
func serverEndPoint(cert *tls.Certificate) []byte {
	if cert == nil || len(cert.Certificate) == 0 {
		return nil
	}
	leaf := cert.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil
		}
	}
	var hash crypto.Hash
	switch leaf.SignatureAlgorithm {
	case x509.MD5WithRSA, x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1,
		x509.SHA256WithRSA, x509.SHA256WithRSAPSS, x509.DSAWithSHA256, x509.ECDSAWithSHA256:
		hash = crypto.SHA256
	case x509.SHA384WithRSA, x509.SHA384WithRSAPSS, x509.ECDSAWithSHA384:
		hash = crypto.SHA384
	case x509.SHA512WithRSA, x509.SHA512WithRSAPSS, x509.ECDSAWithSHA512:
		hash = crypto.SHA512
	default:
		return nil
	}
	hh := hash.New()
	hh.Write(cert.Certificate[0])
	return hh.Sum(nil)
}
