package proxy

import (
	"bytes"
	"crypto"
	_ "crypto/sha256" // the hashes tls-server-end-point may name
	_ "crypto/sha512"
	"crypto/tls"
	"crypto/x509"
)

// tls-server-end-point (RFC 5929 §4.1) for HT-SHA-256-ENDP. crypto/tls does
// not tell a server which certificate its handshake sent, nor, for a resumed
// session, which one the original handshake sent; tlsHandshake learns both.

// tlsHandshake is one connection's view of its handshake. All its methods run
// inside that handshake, on the goroutine that reads its result afterwards.
type tlsHandshake struct {
	s      *Server
	base   *tls.Config // the shared config: its ticket keys, rotated on SIGHUP
	domain string      // STARTTLS: the stream's domain, for a client without SNI

	full    *tls.Certificate // what GetCertificate chose in a full handshake
	resumed []byte           // the end point the last unwrapped ticket carried
}

// endpExtra marks the end point in a session ticket's extra data.
var endpExtra = []byte("xmpp-oauth-proxy tls-server-end-point\x00")

// config is base for this connection: certificate choice and session tickets
// go through h.
func (h *tlsHandshake) config() *tls.Config {
	cfg := h.base.Clone()
	cfg.GetCertificate = h.getCertificate
	cfg.WrapSession = h.wrapSession
	cfg.UnwrapSession = h.unwrapSession
	return cfg
}

func (h *tlsHandshake) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if hello.ServerName == "" && h.domain != "" {
		hh := *hello
		hh.ServerName = h.domain
		hello = &hh
	}
	cert, err := h.s.cfg.Certificates.GetCertificate(hello)
	h.full = cert
	return cert, err
}

// endPoint is the binding of the session being made or resumed; nil when
// unknown (a ticket from before this was recorded, an Ed25519 certificate).
func (h *tlsHandshake) endPoint(resumed bool) []byte {
	if resumed {
		return h.resumed
	}
	return serverEndPoint(h.full)
}

// wrapSession carries the end point into the ticket, so that a resumption
// binds to the certificate of the original handshake, as RFC 5929 says.
func (h *tlsHandshake) wrapSession(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
	if ep := h.endPoint(cs.DidResume); ep != nil {
		ss.Extra = append(ss.Extra, append(bytes.Clone(endpExtra), ep...))
	}
	return h.base.EncryptTicket(cs, ss)
}

// unwrapSession decrypts with the shared keys. TLS 1.3 may unwrap several
// offered tickets; the last one unwrapped is the one a resumption uses.
func (h *tlsHandshake) unwrapSession(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
	h.resumed = nil
	ss, err := h.base.DecryptTicket(identity, cs)
	if ss == nil || err != nil {
		return ss, err
	}
	for _, e := range ss.Extra {
		if ep, ok := bytes.CutPrefix(e, endpExtra); ok && len(ep) > 0 {
			h.resumed = bytes.Clone(ep)
		}
	}
	return ss, nil
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
