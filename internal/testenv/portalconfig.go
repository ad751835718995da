package testenv

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"path/filepath"
)

// PortalSetup is a self-service page for a proxy built from ProxyConfig:
// Extra holds its portal: and store: sections (pass it as extra); with
// StorePath and the keys a test opens the same SQLite store (testenv cannot
// import credstore, whose tests import testenv).
type PortalSetup struct {
	Extra     string
	PublicURL string

	StorePath              string
	HashKey, EncryptionKey []byte
	EncryptionKeyID        string
}

// PortalConfig puts the page on addr (empty: a free loopback port),
// registers its callback as a redirect URI of the IdP's client, and keeps
// the store in dir with fresh keys.
func (e *Env) PortalConfig(ctx context.Context, addr, dir string) (PortalSetup, error) {
	if addr == "" {
		ports, err := pickPorts(1)
		if err != nil {
			return PortalSetup{}, err
		}
		addr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	}
	publicURL := "http://" + addr
	if err := e.IdP.AllowRedirectURI(ctx, publicURL+"/callback"); err != nil {
		return PortalSetup{}, err
	}
	hashKey, encKey := make([]byte, 32), make([]byte, 32)
	rand.Read(hashKey)
	rand.Read(encKey)
	path := filepath.Join(dir, "credentials.db")
	b64 := base64.StdEncoding.EncodeToString
	return PortalSetup{
		Extra: fmt.Sprintf(`portal: {address: %q, public_url: %q}
store:
  path: %q
  hash_key: %q
  encryption_keys: [{id: test, key: %q}]
`, addr, publicURL, path, b64(hashKey), b64(encKey)),
		PublicURL: publicURL,
		StorePath: path, HashKey: hashKey, EncryptionKey: encKey, EncryptionKeyID: "test",
	}, nil
}
