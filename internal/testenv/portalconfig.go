package testenv

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"path/filepath"
)

// PortalSetup is a self-service page for a proxy built from ProxyConfig:
// Extra holds its portal: and store: sections (pass it as extra); StorePath
// and SecretKey name the SQLite store, for a second process on it.
type PortalSetup struct {
	Extra     string
	PublicURL string

	StorePath, SecretKey string
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
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	path := filepath.Join(dir, "credentials.db")
	secret := base64.StdEncoding.EncodeToString(key)
	return PortalSetup{
		Extra:     fmt.Sprintf("portal: {address: %q, public_url: %q}\nstore: {path: %q, secret_key: %q}\n", addr, publicURL, path, secret),
		PublicURL: publicURL,
		StorePath: path, SecretKey: secret,
	}, nil
}
