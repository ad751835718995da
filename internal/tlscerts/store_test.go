package tlscerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writePair(t *testing.T, dir, name string, serial int64, dnsNames ...string) Pair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: dnsNames[0]},
		DNSNames:     dnsNames,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	p := Pair{CertFile: filepath.Join(dir, name+".crt"), KeyFile: filepath.Join(dir, name+".key")}
	os.WriteFile(p.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(p.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return p
}

func serial(c *tls.Certificate) int64 { return c.Leaf.SerialNumber.Int64() }

func TestPicksByName(t *testing.T) {
	dir := t.TempDir()
	s, err := Load([]Pair{
		writePair(t, dir, "a", 1, "a.example"),
		writePair(t, dir, "b", 2, "b.example", "*.chat.example"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int64{"a.example": 1, "B.example.": 2, "muc.chat.example": 2, "unknown": 1, "": 1} {
		if got := serial(s.ForName(name)); got != want {
			t.Errorf("%q -> serial %d, want %d", name, got, want)
		}
	}
}

func TestReloadSwapsAndKeepsOldOnError(t *testing.T) {
	dir := t.TempDir()
	p := writePair(t, dir, "a", 1, "a.example")
	s, err := Load([]Pair{p})
	if err != nil {
		t.Fatal(err)
	}
	writePair(t, dir, "a", 7, "a.example")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := serial(s.ForName("a.example")); got != 7 {
		t.Errorf("after reload serial %d, want 7", got)
	}
	os.WriteFile(p.KeyFile, []byte("garbage"), 0o600)
	if err := s.Reload(); err == nil {
		t.Fatal("reload of a broken key succeeded")
	}
	if got := serial(s.ForName("a.example")); got != 7 {
		t.Errorf("broken reload replaced the certificate: serial %d", got)
	}
}

func TestMissingFileNamed(t *testing.T) {
	_, err := Load([]Pair{{CertFile: "/nonexistent/x.crt", KeyFile: "/nonexistent/x.key"}})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/x.crt") {
		t.Fatalf("err = %v", err)
	}
}

func writeRSAPair(t *testing.T, dir, name string, serial int64, dnsName string) Pair {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p := Pair{CertFile: filepath.Join(dir, name+".crt"), KeyFile: filepath.Join(dir, name+".key")}
	os.WriteFile(p.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(p.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	return p
}

// TestECDSAAndRSAForOneName: with both configured for a name, a client that
// can verify ECDSA gets it (cheaper handshakes); one that cannot gets RSA,
// whatever the order in the configuration.
func TestECDSAAndRSAForOneName(t *testing.T) {
	dir := t.TempDir()
	s, err := Load([]Pair{writeRSAPair(t, dir, "rsa", 1, "xmpp.example"), writePair(t, dir, "ec", 2, "xmpp.example")})
	if err != nil {
		t.Fatal(err)
	}
	modern := &tls.ClientHelloInfo{ServerName: "xmpp.example", SupportedVersions: []uint16{tls.VersionTLS13},
		SignatureSchemes: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256, tls.PSSWithSHA256}, SupportedCurves: []tls.CurveID{tls.X25519, tls.CurveP256}}
	rsaOnly := &tls.ClientHelloInfo{ServerName: "xmpp.example", SupportedVersions: []uint16{tls.VersionTLS13},
		SignatureSchemes: []tls.SignatureScheme{tls.PSSWithSHA256}, SupportedCurves: []tls.CurveID{tls.X25519}}
	for name, c := range map[string]struct {
		hello *tls.ClientHelloInfo
		want  int64
	}{"ecdsa-capable": {modern, 2}, "rsa-only": {rsaOnly, 1}} {
		got, err := s.GetCertificate(c.hello)
		if err != nil || serial(got) != c.want {
			t.Errorf("%s client: serial %d, %v; want %d", name, serial(got), err, c.want)
		}
	}
}
