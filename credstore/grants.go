package credstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Grant is one sign-in at the IdP, as the recheck loop needs it.
type Grant struct {
	ID            string
	Owner         Owner
	CreatedAt     time.Time
	LastCheckedAt time.Time
	RefreshToken  Secret // decrypted; redacted when printed
}

func (s *Store) insertGrant(ctx context.Context, tx *sql.Tx, id string, owner Owner, refreshToken string, now time.Time) error {
	keyID, sealed := s.keys.seal([]byte(refreshToken), grantAAD(id))
	_, err := tx.ExecContext(ctx, `INSERT INTO grants
		(id, owner_jid, owner_sub, created_at, last_checked_at, refresh_key_id, refresh_token)
		VALUES ($1, $2, $3, $4, $4, $5, $6)`,
		id, owner.JID, owner.Subject, toDB(now), keyID, sealed)
	return err
}

// GrantsDueForRecheck returns up to limit enabled grants, oldest check
// first, last checked before olderThan and still holding an active
// credential (a grant whose credentials are all revoked needs no IdP).
func (s *Store) GrantsDueForRecheck(ctx context.Context, olderThan time.Time, limit int) ([]Grant, error) {
	if s.closed.Load() {
		return nil, s.fail("grants due", ErrClosed)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT g.id, g.owner_jid, g.owner_sub, g.created_at,
			g.last_checked_at, g.refresh_key_id, g.refresh_token
		FROM grants g
		WHERE g.disabled_at IS NULL AND g.last_checked_at < $1
			AND EXISTS (SELECT 1 FROM credentials c WHERE c.grant_id = g.id AND c.revoked_at IS NULL)
		ORDER BY g.last_checked_at, g.id LIMIT $2`, toDB(olderThan), limit)
	if err != nil {
		return nil, s.fail("grants due", err)
	}
	defer rows.Close()
	var out []Grant
	for rows.Next() {
		var g Grant
		var created, checked sql.NullInt64
		var keyID sql.NullString
		var sealed []byte
		if err := rows.Scan(&g.ID, &g.Owner.JID, &g.Owner.Subject, &created, &checked, &keyID, &sealed); err != nil {
			return nil, s.fail("grants due", err)
		}
		plain, err := s.keys.open(keyID.String, sealed, grantAAD(g.ID))
		if err != nil {
			return nil, s.fail("grants due", fmt.Errorf("grant %s: %w", g.ID, err))
		}
		g.CreatedAt, g.LastCheckedAt, g.RefreshToken = fromDB(created), fromDB(checked), Secret{string(plain)}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("grants due", err)
	}
	return out, nil
}

// UpdateGrantRefreshToken records a successful IdP check of the grant: the
// grant counts as checked now, and a rotated refresh token (non-empty)
// replaces the stored one, sealed under the current key.
func (s *Store) UpdateGrantRefreshToken(ctx context.Context, id, rotated string) error {
	return s.tx(ctx, "update grant", func(tx *sql.Tx) ([]Event, error) {
		now := toDB(s.now())
		var res sql.Result
		var err error
		if rotated == "" {
			res, err = tx.ExecContext(ctx, `UPDATE grants SET last_checked_at = $1
				WHERE id = $2 AND disabled_at IS NULL`, now, id)
		} else {
			keyID, sealed := s.keys.seal([]byte(rotated), grantAAD(id))
			res, err = tx.ExecContext(ctx, `UPDATE grants SET last_checked_at = $1, refresh_key_id = $2,
				refresh_token = $3 WHERE id = $4 AND disabled_at IS NULL`, now, keyID, sealed, id)
		}
		if err != nil {
			return nil, err
		}
		return nil, oneRow(res)
	})
}

// DisableGrant disables a grant for good (the IdP refused it), revokes all
// its credentials with the reason, forgets its refresh token and announces
// it. Unknown or already disabled: ErrNotFound.
func (s *Store) DisableGrant(ctx context.Context, id, reason string) error {
	return s.tx(ctx, "disable grant", func(tx *sql.Tx) ([]Event, error) {
		now := toDB(s.now())
		var owner string
		err := tx.QueryRowContext(ctx, `UPDATE grants SET disabled_at = $1, disabled_reason = $2,
				refresh_key_id = NULL, refresh_token = NULL
			WHERE id = $3 AND disabled_at IS NULL RETURNING owner_jid`, now, reason, id).Scan(&owner)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		if err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE credentials SET revoked_at = $1, revoked_reason = $2
			WHERE grant_id = $3 AND revoked_at IS NULL`, now, reason, id); err != nil {
			return nil, err
		}
		return []Event{{Kind: EventGrantDisabled, Owner: owner, GrantID: id, Reason: reason}}, nil
	})
}

// oneRow turns "no row matched" into ErrNotFound.
func oneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
