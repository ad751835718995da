package app

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/oauthx"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/saslauth"
)

// oauthAuthenticator lets saslauth ask oauthx without either knowing the other:
// it translates oauthx's error classes into saslauth's. realms, when set, are
// the only username realms this domain accepts (oauthx accepts those of all
// domains).
type oauthAuthenticator struct {
	client *oauthx.Client
	realms []string
}

func (a oauthAuthenticator) CheckPassword(ctx context.Context, username, password string) (saslauth.Identity, error) {
	id, err := a.client.PasswordLogin(ctx, username, password)
	if err != nil {
		return saslauth.Identity{}, classify(err)
	}
	return a.identity(id)
}

func (a oauthAuthenticator) CheckToken(ctx context.Context, token string) (saslauth.Identity, error) {
	id, err := a.client.ValidateToken(ctx, token)
	if err != nil {
		return saslauth.Identity{}, classify(err)
	}
	return a.identity(id)
}

func (a oauthAuthenticator) identity(id oauthx.Identity) (saslauth.Identity, error) {
	if id.Realm != "" && len(a.realms) > 0 && !slices.Contains(a.realms, id.Realm) {
		return saslauth.Identity{}, fmt.Errorf("%w: username realm %q belongs to another domain", saslauth.ErrInvalidCredentials, id.Realm)
	}
	return saslauth.Identity{Username: id.Username, Token: id.AccessToken, Expires: id.Expires, RefreshToken: id.RefreshToken}, nil
}

// classify keeps the cause for logs: wrong credentials are the user's problem, anything
// else (IdP down, our own misconfiguration) is a temporary failure for the client.
func classify(err error) error {
	if errors.Is(err, oauthx.ErrInvalidCredentials) || errors.Is(err, oauthx.ErrInvalidToken) {
		return fmt.Errorf("%w: %w", saslauth.ErrInvalidCredentials, err)
	}
	return fmt.Errorf("%w: %w", saslauth.ErrTemporary, err)
}
