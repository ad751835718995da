package app

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/credstore"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/grantcheck"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/config"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/oauthx"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/proxy"
)

// storeOpenTimeout bounds opening the credential store at start (a PostgreSQL
// that does not answer must not hang start-up).
const storeOpenTimeout = 15 * time.Second

// OpenStore opens the credential store cfg describes, for the operator
// commands; nil when none is configured. The caller closes it.
func OpenStore(cfg *config.Config) (*credstore.Store, error) { return openStore(cfg) }

// openStore opens the configured credential store, or returns nil when none is.
func openStore(cfg *config.Config) (*credstore.Store, error) {
	s := cfg.Store
	if !s.Enabled() {
		return nil, nil
	}
	hashKey, encKey, err := storeKeys([]byte(s.SecretKey))
	if err != nil {
		return nil, err
	}
	keys, _ := config.ParseEncryptionKeys(s.EncryptionKeys) // validated at load
	var ek []credstore.EncryptionKey
	for _, k := range keys {
		ek = append(ek, credstore.EncryptionKey{ID: k.ID, Key: k.Key})
	}
	// The derived key always opens what it sealed before explicit keys existed.
	ek = append(ek, credstore.EncryptionKey{ID: "derived", Key: encKey})
	ctx, cancel := context.WithTimeout(context.Background(), storeOpenTimeout)
	defer cancel()
	return credstore.Open(ctx, credstore.Config{
		Driver:         s.Driver,
		Path:           s.Path,
		DSN:            s.DSN,
		HashKey:        hashKey,
		EncryptionKeys: ek,
		Recheck:        cfg.AppPasswords.Recheck,
	})
}

// storeKeys derives the hash key and the default encryption key from the
// configured secret, so one secret is all a small deployment sets.
func storeKeys(secret []byte) (hashKey, encKey []byte, err error) {
	if hashKey, err = hkdf.Key(sha256.New, secret, nil, "xmpp-oauth-proxy app-password hash", 32); err != nil {
		return nil, nil, err
	}
	if encKey, err = hkdf.Key(sha256.New, secret, nil, "xmpp-oauth-proxy refresh-token encryption", 32); err != nil {
		return nil, nil, err
	}
	return hashKey, encKey, nil
}

// grantStore adapts credstore to grantcheck.Store.
type grantStore struct{ s *credstore.Store }

func (g grantStore) DueGrants(ctx context.Context, olderThan time.Time, limit int) ([]grantcheck.Grant, error) {
	gs, err := g.s.GrantsDueForRecheck(ctx, olderThan, limit)
	out := make([]grantcheck.Grant, 0, len(gs))
	for _, x := range gs {
		out = append(out, grantcheck.Grant{ID: x.ID, RefreshToken: x.RefreshToken.Reveal(), LastCheckedAt: x.LastCheckedAt})
	}
	return out, err
}

func (g grantStore) Grant(ctx context.Context, id string) (grantcheck.Grant, error) {
	x, err := g.s.Grant(ctx, id)
	if err != nil {
		return grantcheck.Grant{}, err
	}
	return grantcheck.Grant{ID: x.ID, RefreshToken: x.RefreshToken.Reveal(), LastCheckedAt: x.LastCheckedAt}, nil
}

func (g grantStore) Claim(ctx context.Context, id string) (grantcheck.Grant, error) {
	x, err := g.s.ClaimGrant(ctx, id)
	if errors.Is(err, credstore.ErrRecheckInProgress) {
		return grantcheck.Grant{}, fmt.Errorf("%w: %w", grantcheck.ErrBusy, err)
	}
	if err != nil {
		return grantcheck.Grant{}, err
	}
	return grantcheck.Grant{ID: x.ID, RefreshToken: x.RefreshToken.Reveal(), LastCheckedAt: x.LastCheckedAt}, nil
}

func (g grantStore) Checked(ctx context.Context, id, rotated string) error {
	return g.s.UpdateGrantRefreshToken(ctx, id, rotated)
}

func (g grantStore) Disable(ctx context.Context, id, reason string) error {
	return g.s.DisableGrant(ctx, id, reason)
}

// grantRefresher adapts oauthx to grantcheck.Refresher.
type grantRefresher struct{ c *oauthx.Client }

func (r grantRefresher) Refresh(ctx context.Context, refreshToken string) (string, error) {
	res, err := r.c.Refresh(ctx, refreshToken)
	if errors.Is(err, oauthx.ErrGrantRevoked) {
		return "", fmt.Errorf("%w: %w", grantcheck.ErrRevoked, err)
	}
	return res.RefreshToken, err
}

// textCredentialRevoked is what a client shows when its session ends because
// its app password or FAST token was revoked (the IdP's refusal: proxy.TextIdPRefused).
const textCredentialRevoked = "Access for this app password or device was revoked"

// endRevokedSessions ends live sessions as the store announces revocations,
// from this process or (PostgreSQL) any replica, until the subscription ends.
func (a *App) endRevokedSessions(sub *credstore.Subscription) {
	for ev := range sub.Events() {
		a.metrics.Revocation(string(ev.Kind))
		switch ev.Kind {
		case credstore.EventCredentialRevoked:
			a.server.EndSessions(proxy.SessionRef{CredentialID: ev.CredentialID}, textCredentialRevoked)
		case credstore.EventGrantDisabled:
			a.server.EndSessions(proxy.SessionRef{GrantID: ev.GrantID}, proxy.TextIdPRefused)
		case credstore.EventResync:
			a.resyncSessions()
		}
	}
}

// resyncSessions ends the live sessions whose credential was revoked while
// the store's events could not reach us (PostgreSQL listener reconnected).
func (a *App) resyncSessions() {
	ctx, cancel := context.WithTimeout(context.Background(), storeOpenTimeout)
	defer cancel()
	gone, err := a.store.Inactive(ctx, a.server.LiveCredentials())
	if err != nil {
		a.log.Warn().Err(err).Msg("credential store events may have been missed and live sessions could not be re-checked")
		return
	}
	for _, id := range gone {
		a.server.EndSessions(proxy.SessionRef{CredentialID: id}, textCredentialRevoked)
	}
	a.log.Info().Int("ended", len(gone)).Msg("live sessions re-checked after missed credential store events")
}

// CredentialStore is the open credential store, nil when none is configured
// (the portal and tests create app passwords through it).
func (a *App) CredentialStore() *credstore.Store { return a.store }
