package credstore

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Verified is what a successful Verify learned.
type Verified struct {
	AppPassword
	Subject string // the IdP's sub of the grant
	// NeedsRecheck: the grant's last IdP check is older than
	// Config.Recheck; the caller should refresh it (UpdateGrantRefreshToken
	// or DisableGrant) before or soon after letting the login through.
	NeedsRecheck bool
}

// Verify checks a typed app password for the bare JID the client logs in
// as, with one indexed query. Unknown password or another owner's:
// ErrNotFound. Revoked, or its grant disabled: ErrRevoked. The last use is
// recorded at most once per Config.UseRecordingStep per address.
func (s *Store) Verify(ctx context.Context, jid, password, clientAddr string) (Verified, error) {
	norm, ok := normalizePassword(password)
	if !ok {
		return Verified{}, fmt.Errorf("credstore: verify: %w", ErrNotFound)
	}
	if s.closed.Load() {
		return Verified{}, s.fail("verify", ErrClosed)
	}
	var v Verified
	var created, lastUsed, revoked, checked, disabled sql.NullInt64
	var lastAddr, revokedReason, disabledReason sql.NullString
	err := s.read.QueryRowContext(ctx, `SELECT c.id, c.grant_id, c.owner_jid, c.label, c.created_at,
			c.last_used_at, c.last_used_addr, c.revoked_at, c.revoked_reason,
			g.owner_sub, g.last_checked_at, g.disabled_at, g.disabled_reason
		FROM credentials c JOIN grants g ON g.id = c.grant_id
		WHERE c.secret_hash = $1 AND c.kind = $2`,
		secretHash(s.hashKey, kindAppPassword, norm), string(kindAppPassword)).Scan(
		&v.ID, &v.GrantID, &v.Owner, &v.Label, &created,
		&lastUsed, &lastAddr, &revoked, &revokedReason,
		&v.Subject, &checked, &disabled, &disabledReason)
	if errors.Is(err, sql.ErrNoRows) {
		return Verified{}, fmt.Errorf("credstore: verify: %w", ErrNotFound)
	}
	if err != nil {
		return Verified{}, s.fail("verify", err)
	}
	// The hash matched, so the password is right; the owner is not secret,
	// but compare in constant time anyway so timing says nothing.
	if subtle.ConstantTimeCompare([]byte(v.Owner), []byte(jid)) != 1 {
		return Verified{}, fmt.Errorf("credstore: verify: %w", ErrNotFound)
	}
	if revoked.Valid || disabled.Valid {
		return Verified{}, fmt.Errorf("credstore: verify: %w", ErrRevoked)
	}
	now := s.now()
	v.CreatedAt, v.LastUsedAt, v.LastUsedAddr = fromDB(created), fromDB(lastUsed), lastAddr.String
	v.NeedsRecheck = now.Sub(fromDB(checked)) >= s.recheck
	if v.LastUsedAddr != clientAddr || now.Sub(v.LastUsedAt) >= s.useStep {
		if err := s.recordUse(ctx, v.ID, clientAddr, now); err != nil {
			return Verified{}, err
		}
		v.LastUsedAt, v.LastUsedAddr = fromDB(toDB(now)), clientAddr
	}
	return v, nil
}

func (s *Store) recordUse(ctx context.Context, id, addr string, at time.Time) error {
	_, err := s.write.ExecContext(ctx,
		`UPDATE credentials SET last_used_at = $1, last_used_addr = $2 WHERE id = $3`, toDB(at), addr, id)
	if err != nil {
		return s.fail("record use", err)
	}
	return nil
}
