package credstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
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

// ErrRecheckInProgress: another caller (perhaps another replica) holds the
// grant for a recheck; use the outcome it records instead.
var ErrRecheckInProgress = errors.New("credstore: grant recheck in progress")

// grantColumns are what scanGrant reads.
const grantColumns = `id, owner_jid, owner_sub, created_at, last_checked_at, refresh_key_id, refresh_token`

// GrantsDueForRecheck claims and returns up to limit enabled grants, oldest
// check first, last checked before olderThan and still holding an active
// credential (a grant whose credentials are all revoked needs no IdP).
// Each is held for Config.RecheckLease: no other call, on any replica,
// returns it meanwhile, so a refresh token is never spent twice. The
// caller reports each outcome with UpdateGrantRefreshToken or
// DisableGrant; a grant left unreported is due again after the lease.
func (s *Store) GrantsDueForRecheck(ctx context.Context, olderThan time.Time, limit int) ([]Grant, error) {
	var out []Grant
	err := s.tx(ctx, "grants due", func(tx *sql.Tx) ([]Event, error) {
		now := s.now()
		// SQLite has one writer at a time. PostgreSQL runs claims
		// concurrently: SKIP LOCKED passes over rows another claim is taking,
		// and the outer condition is checked again on rows it took meanwhile,
		// so concurrent callers get disjoint sets and leave nothing due unseen.
		skipLocked := ""
		if s.backend == DriverPostgres {
			skipLocked = "FOR UPDATE OF g SKIP LOCKED"
		}
		rows, err := tx.QueryContext(ctx, `UPDATE grants SET claimed_until = $1
			WHERE (claimed_until IS NULL OR claimed_until <= $2) AND id IN (
				SELECT g.id FROM grants g
				WHERE g.disabled_at IS NULL AND g.last_checked_at < $3
					AND (g.claimed_until IS NULL OR g.claimed_until <= $2)
					AND EXISTS (SELECT 1 FROM credentials c WHERE c.grant_id = g.id AND c.revoked_at IS NULL)
				ORDER BY g.last_checked_at, g.id LIMIT $4 `+skipLocked+`)
			RETURNING `+grantColumns, toDB(now.Add(s.lease)), toDB(now), toDB(olderThan), limit)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			g, err := s.scanGrant(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, g)
		}
		return nil, rows.Err()
	})
	if err != nil {
		return nil, err
	}
	// RETURNING keeps no order.
	slices.SortFunc(out, func(a, b Grant) int {
		return cmp.Or(a.LastCheckedAt.Compare(b.LastCheckedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// ClaimGrant holds one grant for a recheck, as GrantsDueForRecheck does,
// for a login whose Verify said NeedsRecheck. Disabled or unknown:
// ErrNotFound; held by another caller: ErrRecheckInProgress.
func (s *Store) ClaimGrant(ctx context.Context, id string) (Grant, error) {
	var g Grant
	err := s.tx(ctx, "claim grant", func(tx *sql.Tx) ([]Event, error) {
		now := s.now()
		row := tx.QueryRowContext(ctx, `UPDATE grants SET claimed_until = $1
			WHERE id = $2 AND disabled_at IS NULL AND (claimed_until IS NULL OR claimed_until <= $3)
			RETURNING `+grantColumns, toDB(now.Add(s.lease)), id, toDB(now))
		var err error
		g, err = s.scanGrant(row)
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		var enabled bool
		err = tx.QueryRowContext(ctx, `SELECT disabled_at IS NULL FROM grants WHERE id = $1`, id).Scan(&enabled)
		switch {
		case errors.Is(err, sql.ErrNoRows) || err == nil && !enabled:
			return nil, ErrNotFound
		case err != nil:
			return nil, err
		}
		return nil, ErrRecheckInProgress
	})
	return g, err
}

// scanGrant reads grantColumns and opens the refresh token.
func (s *Store) scanGrant(row interface{ Scan(...any) error }) (Grant, error) {
	var g Grant
	var created, checked sql.NullInt64
	var keyID sql.NullString
	var sealed []byte
	if err := row.Scan(&g.ID, &g.Owner.JID, &g.Owner.Subject, &created, &checked, &keyID, &sealed); err != nil {
		return Grant{}, err
	}
	plain, err := s.keys.open(keyID.String, sealed, grantAAD(g.ID))
	if err != nil {
		return Grant{}, fmt.Errorf("grant %s: %w", g.ID, err)
	}
	g.CreatedAt, g.LastCheckedAt, g.RefreshToken = fromDB(created), fromDB(checked), Secret{string(plain)}
	return g, nil
}

// UpdateGrantRefreshToken records a successful IdP check of the grant: the
// grant counts as checked now, and a rotated refresh token (non-empty)
// replaces the stored one, sealed under the current key. It releases the
// recheck claim.
func (s *Store) UpdateGrantRefreshToken(ctx context.Context, id, rotated string) error {
	return s.tx(ctx, "update grant", func(tx *sql.Tx) ([]Event, error) {
		now := toDB(s.now())
		var res sql.Result
		var err error
		if rotated == "" {
			res, err = tx.ExecContext(ctx, `UPDATE grants SET last_checked_at = $1, claimed_until = NULL
				WHERE id = $2 AND disabled_at IS NULL`, now, id)
		} else {
			keyID, sealed := s.keys.seal([]byte(rotated), grantAAD(id))
			res, err = tx.ExecContext(ctx, `UPDATE grants SET last_checked_at = $1, refresh_key_id = $2,
				refresh_token = $3, claimed_until = NULL WHERE id = $4 AND disabled_at IS NULL`, now, keyID, sealed, id)
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
				refresh_key_id = NULL, refresh_token = NULL, claimed_until = NULL
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
