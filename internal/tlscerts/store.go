package tlscerts

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
)

// Pair names a PEM certificate chain and its key.
type Pair struct{ CertFile, KeyFile string }

// Store serves certificates; safe for concurrent use.
type Store struct {
	pairs []Pair
	set   atomic.Pointer[certSet]
}

// certSet maps names to certificates. A name may have several (an ECDSA and
// an RSA one): the first the client supports is served, ECDSA first, since its
// handshakes cost the server a fraction of RSA's.
type certSet struct {
	byName   map[string][]*tls.Certificate // exact names and "*.suffix" wildcards
	fallback []*tls.Certificate            // the first configured name's
}

// Load reads every pair; any unreadable file is an error naming it.
func Load(pairs []Pair) (*Store, error) {
	s := &Store{pairs: pairs}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload reads the files again. On error the old certificates stay in use.
func (s *Store) Reload() error {
	if len(s.pairs) == 0 {
		return errors.New("no certificates configured")
	}
	set := &certSet{byName: map[string][]*tls.Certificate{}}
	for _, p := range s.pairs {
		cert, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
		if err != nil {
			return fmt.Errorf("certificate %s / key %s: %w", p.CertFile, p.KeyFile, err)
		}
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return fmt.Errorf("certificate %s: %w", p.CertFile, err)
		}
		cert.Leaf = leaf
		names := leaf.DNSNames
		if len(names) == 0 && leaf.Subject.CommonName != "" {
			names = []string{leaf.Subject.CommonName}
		}
		for _, n := range names {
			n = strings.ToLower(n)
			set.byName[n] = appendByPreference(set.byName[n], &cert)
		}
		if set.fallback == nil || sameNames(set.fallback[0].Leaf, leaf) {
			set.fallback = appendByPreference(set.fallback, &cert)
		}
	}
	s.set.Store(set)
	return nil
}

// appendByPreference keeps ECDSA certificates before the others, each group
// in configuration order.
func appendByPreference(list []*tls.Certificate, c *tls.Certificate) []*tls.Certificate {
	if _, ecdsa := c.PrivateKey.(*ecdsa.PrivateKey); !ecdsa {
		return append(list, c)
	}
	i := 0
	for i < len(list) {
		if _, e := list[i].PrivateKey.(*ecdsa.PrivateKey); !e {
			break
		}
		i++
	}
	return slices.Insert(list, i, c)
}

func sameNames(a, b *x509.Certificate) bool {
	return slices.Equal(a.DNSNames, b.DNSNames) && a.Subject.CommonName == b.Subject.CommonName
}

// ForName returns the preferred certificate for a host name: exact, then
// wildcard, then the first configured one.
func (s *Store) ForName(name string) *tls.Certificate {
	return s.candidates(name)[0]
}

func (s *Store) candidates(name string) []*tls.Certificate {
	set := s.set.Load()
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if c, ok := set.byName[name]; ok {
		return c
	}
	if _, rest, ok := strings.Cut(name, "."); ok {
		if c, ok := set.byName["*."+rest]; ok {
			return c
		}
	}
	return set.fallback
}

// GetCertificate is for tls.Config.GetCertificate: of the name's certificates,
// the first the client can use (ECDSA first), else the last one.
func (s *Store) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	cs := s.candidates(hello.ServerName)
	for _, c := range cs[:len(cs)-1] {
		if hello.SupportsCertificate(c) == nil {
			return c, nil
		}
	}
	return cs[len(cs)-1], nil
}
