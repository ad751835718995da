package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/credstore"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// scramStore adapts the credential store's SCRAM keys of app passwords to
// saslauth.SCRAMVerifier; a matched app password then goes through the same
// grant check, metrics and use recording as a PLAIN one.
type scramStore struct {
	appPasswordAuthenticator
}

var errNoSCRAMMatch = errors.New("the SCRAM proof matches none of the user's app passwords")

func (s scramStore) SCRAMKeys(ctx context.Context, username string) (saslauth.SCRAMKeys, error) {
	k, err := s.store.SCRAMKeys(ctx, username+"@"+s.domain)
	if err != nil {
		return saslauth.SCRAMKeys{}, fmt.Errorf("%w: %w", saslauth.ErrTemporary, err)
	}
	out := saslauth.SCRAMKeys{Salt: k.Salt, Iterations: k.Iterations, Keys: make([]saslauth.SCRAMKey, len(k.Keys))}
	for i, key := range k.Keys {
		out.Keys[i] = saslauth.SCRAMKey{CredentialID: key.ID, StoredKey: key.StoredKey, ServerKey: key.ServerKey}
	}
	return out, nil
}

func (s scramStore) SCRAMLogin(ctx context.Context, username string, match func() string) (saslauth.Identity, error) {
	credentialID := match()
	if credentialID == "" {
		return saslauth.Identity{}, fmt.Errorf("%w: %w", saslauth.ErrInvalidCredentials, errNoSCRAMMatch)
	}
	v, err := s.store.VerifySCRAM(ctx, username+"@"+s.domain, credentialID, saslauth.ClientAddr(ctx), saslauth.ClientAgent(ctx))
	switch {
	case errors.Is(err, credstore.ErrRevoked), errors.Is(err, credstore.ErrNotFound):
		s.metrics.AppPasswordLogin("revoked")
		return saslauth.Identity{}, fmt.Errorf("%w: %w", saslauth.ErrInvalidCredentials, err)
	case err != nil:
		return saslauth.Identity{}, fmt.Errorf("%w: %w", saslauth.ErrTemporary, err)
	}
	return s.checkGrant(ctx, username, v)
}
