package credstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Grant loads one enabled grant with its refresh token, for a check on the
// spot (a login whose grant is overdue). Unknown or disabled: ErrNotFound.
func (s *Store) Grant(ctx context.Context, id string) (Grant, error) {
	if s.closed.Load() {
		return Grant{}, s.fail("grant", ErrClosed)
	}
	var g Grant
	var created, checked sql.NullInt64
	var keyID sql.NullString
	var sealed []byte
	err := s.read.QueryRowContext(ctx, `SELECT id, owner_jid, owner_sub, created_at, last_checked_at,
			refresh_key_id, refresh_token
		FROM grants WHERE id = $1 AND disabled_at IS NULL`, id).Scan(
		&g.ID, &g.Owner.JID, &g.Owner.Subject, &created, &checked, &keyID, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return Grant{}, fmt.Errorf("credstore: grant: %w", ErrNotFound)
	}
	if err != nil {
		return Grant{}, s.fail("grant", err)
	}
	plain, err := s.keys.open(keyID.String, sealed, grantAAD(g.ID))
	if err != nil {
		return Grant{}, s.fail("grant", fmt.Errorf("grant %s: %w", g.ID, err))
	}
	g.CreatedAt, g.LastCheckedAt, g.RefreshToken = fromDB(created), fromDB(checked), Secret{string(plain)}
	return g, nil
}
