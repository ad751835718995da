package tlscerts

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
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

type certSet struct {
	byName   map[string]*tls.Certificate // exact names and "*.suffix" wildcards
	fallback *tls.Certificate
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
	set := &certSet{byName: map[string]*tls.Certificate{}}
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
			if _, taken := set.byName[n]; !taken {
				set.byName[n] = &cert
			}
		}
		if set.fallback == nil {
			set.fallback = &cert
		}
	}
	s.set.Store(set)
	return nil
}

// ForName returns the certificate for a host name: exact, then wildcard, then the
// first configured one.
func (s *Store) ForName(name string) *tls.Certificate {
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

// GetCertificate is for tls.Config.GetCertificate.
func (s *Store) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.ForName(hello.ServerName), nil
}
