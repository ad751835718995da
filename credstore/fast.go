package credstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"time"
)

// FAST tokens (XEP-0484): one row per owner and device (user-agent id), on
// the grant of the login that asked for it, so the same recheck and
// revocation rules as app passwords hold. The token is sealed like refresh
// tokens: an HT-* login is checked with the token as the HMAC key.

const kindFAST credentialKind = "fast"

var (
	// ErrExpired: the FAST token is past its expiry.
	ErrExpired = errors.New("credstore: expired")
	// ErrReplayed: the client's counter did not grow (XEP-0484 count).
	ErrReplayed = errors.New("credstore: replayed counter")
)

// fastTokenBytes of randomness in a token: 256 bits.
const fastTokenBytes = 32

// FASTToken describes a device's FAST token; it never holds the token.
type FASTToken struct {
	ID, GrantID, Owner   string
	UserAgentID, Label   string
	Mechanism            string
	CreatedAt, ExpiresAt time.Time
	LastUsedAt           time.Time // zero: never used
	LastUsedAddr         string
}

// NewFASTToken asks for a token for a device.
type NewFASTToken struct {
	Owner       string // bare JID
	GrantID     string // the grant of the login that asked; must be the owner's
	UserAgentID string // XEP-0388 user-agent id: which device
	Label       string // shown on the portal (software, device)
	Mechanism   string // the HT-* mechanism the token is bound to
	Expires     time.Time
	// ParentID is the credential the asking login used: an app password, or
	// the device's FAST token. Revoking the app password revokes the token.
	ParentID string
}

// IssueFASTToken mints a token for the device. If the device has a token on
// the same grant and mechanism, the row keeps its id and the new token waits
// beside the old until first used (rotation: the old one works until then).
// Otherwise any old row of the device is revoked and a new one made.
func (s *Store) IssueFASTToken(ctx context.Context, req NewFASTToken) (FASTToken, Secret, error) {
	if err := checkLabel(req.Label); err != nil {
		return FASTToken{}, Secret{}, err
	}
	if req.Owner == "" || req.GrantID == "" || req.UserAgentID == "" || req.Mechanism == "" {
		return FASTToken{}, Secret{}, errors.New("credstore: issue FAST token: owner, grant, user-agent id and mechanism are required")
	}
	var raw [fastTokenBytes]byte
	rand.Read(raw[:])
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	now := s.now()
	t := FASTToken{GrantID: req.GrantID, Owner: req.Owner, UserAgentID: req.UserAgentID, Label: req.Label,
		Mechanism: req.Mechanism, CreatedAt: fromDB(toDB(now)), ExpiresAt: fromDB(toDB(req.Expires))}
	err := s.tx(ctx, "issue FAST token", func(tx *sql.Tx) ([]Event, error) {
		if err := usableGrant(ctx, tx, req.GrantID, req.Owner); err != nil {
			return nil, err
		}
		var id, grant, mech string
		var parent sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT id, grant_id, mechanism, parent_id FROM credentials
			WHERE owner_jid = $1 AND user_agent_id = $2 AND kind = $3 AND revoked_at IS NULL`,
			req.Owner, req.UserAgentID, string(kindFAST)).Scan(&id, &grant, &mech, &parent)
		switch {
		case err == nil && grant == req.GrantID && mech == req.Mechanism:
			t.ID = id
			keyID, sealed := s.keys.seal([]byte(token), fastAAD(id))
			_, err := tx.ExecContext(ctx, `UPDATE credentials SET next_key_id = $1, next_secret = $2,
				next_expires_at = $3, label = $4 WHERE id = $5`, keyID, sealed, toDB(req.Expires), req.Label, id)
			return nil, err
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return nil, err
		}
		var events []Event
		parentID := req.ParentID
		if err == nil && parentID == id {
			parentID = parent.String // asked by a FAST login: the app password stays the parent
		}
		if err == nil { // the device's token on another grant or mechanism: replaced
			if _, err := tx.ExecContext(ctx, `UPDATE credentials SET revoked_at = $1, revoked_reason = $2 WHERE id = $3`,
				toDB(now), reasonReplaced, id); err != nil {
				return nil, err
			}
			events = append(events, Event{Kind: EventCredentialRevoked, Owner: req.Owner, GrantID: grant,
				CredentialID: id, Reason: reasonReplaced})
		}
		t.ID = newID()
		keyID, sealed := s.keys.seal([]byte(token), fastAAD(t.ID))
		_, err = tx.ExecContext(ctx, `INSERT INTO credentials
			(id, grant_id, kind, owner_jid, label, secret_hash, created_at, expires_at,
			 user_agent_id, mechanism, sealed_key_id, sealed_secret, parent_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			t.ID, req.GrantID, string(kindFAST), req.Owner, req.Label,
			secretHash(s.hashKey, kindFAST, t.ID), toDB(now), toDB(req.Expires),
			req.UserAgentID, req.Mechanism, keyID, sealed, sql.NullString{String: parentID, Valid: parentID != ""})
		return events, err
	})
	if err != nil {
		return FASTToken{}, Secret{}, err
	}
	return t, Secret{token}, nil
}

const reasonReplaced = "replaced by a new FAST token for the device"

// fastAAD binds a sealed token to its row.
func fastAAD(id string) []byte { return []byte("credstore fast token " + id) }

// VerifiedFAST is what a successful VerifyFAST learned.
type VerifiedFAST struct {
	FASTToken
	Token        Secret // the token that matched: the HT responder message needs it
	NeedsRecheck bool   // as Verified.NeedsRecheck
}

// VerifyFAST finds the device's token that match accepts (match computes the
// HT initiator message with it). A waiting rotated token that matches
// replaces the old one. count >= 0 is the client's XEP-0484 counter: it must
// exceed the last one seen (ErrReplayed). Unknown device, mechanism or
// token: ErrNotFound; revoked or grant disabled: ErrRevoked; ErrExpired.
// A plain login reads only: its use is recorded as Verify does (coalesced).
func (s *Store) VerifyFAST(ctx context.Context, jid, userAgentID, mech string, count int64, clientAddr string, match func(token []byte) bool) (VerifiedFAST, error) {
	if s.closed.Load() {
		return VerifiedFAST{}, s.fail("verify FAST token", ErrClosed)
	}
	var r fastRow
	err := s.read.QueryRowContext(ctx, `SELECT c.id, c.grant_id, c.label, c.mechanism, c.created_at, c.expires_at,
			c.sealed_key_id, c.sealed_secret, c.next_key_id, c.next_secret, c.next_expires_at,
			c.last_count, c.last_used_at, c.last_used_addr, c.revoked_at, g.last_checked_at, g.disabled_at
		FROM credentials c JOIN grants g ON g.id = c.grant_id
		WHERE c.owner_jid = $1 AND c.user_agent_id = $2 AND c.kind = $3
		ORDER BY c.revoked_at IS NULL DESC, c.created_at DESC LIMIT 1`,
		jid, userAgentID, string(kindFAST)).Scan(&r.id, &r.grant, &r.label, &r.mech, &r.created, &r.expires,
		&r.keyID, &r.sealed, &r.nextKeyID, &r.next, &r.nextExpires, &r.lastCount, &r.lastUsed, &r.lastAddr,
		&r.revoked, &r.checked, &r.disabled)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return VerifiedFAST{}, s.fail("verify FAST token", ErrNotFound)
	case err != nil:
		return VerifiedFAST{}, s.fail("verify FAST token", err)
	case r.revoked.Valid || r.disabled.Valid:
		return VerifiedFAST{}, s.fail("verify FAST token", ErrRevoked)
	case r.mech != mech:
		return VerifiedFAST{}, s.fail("verify FAST token", ErrNotFound)
	}
	seenNext := r.next
	promoted, tok, err := s.matchFAST(&r, match)
	if err != nil {
		return VerifiedFAST{}, s.fail("verify FAST token", err)
	}
	now := s.now()
	if !r.expires.Valid || !now.Before(fromDB(r.expires)) {
		return VerifiedFAST{}, s.fail("verify FAST token", ErrExpired)
	}
	if count >= 0 && r.lastCount.Valid && count <= r.lastCount.Int64 {
		return VerifiedFAST{}, s.fail("verify FAST token", ErrReplayed)
	}
	if promoted || count >= 0 || r.lastAddr.String != clientAddr || now.Sub(fromDB(r.lastUsed)) >= s.useStep {
		if err := s.recordFAST(ctx, r.id, seenNext, promoted, count, clientAddr, now); err != nil {
			return VerifiedFAST{}, err
		}
		r.lastUsed, r.lastAddr = toDB(now), sql.NullString{String: clientAddr, Valid: true}
	}
	return VerifiedFAST{FASTToken: FASTToken{ID: r.id, GrantID: r.grant, Owner: jid, UserAgentID: userAgentID,
		Label: r.label, Mechanism: r.mech, CreatedAt: fromDB(r.created), ExpiresAt: fromDB(r.expires),
		LastUsedAt: fromDB(r.lastUsed), LastUsedAddr: r.lastAddr.String},
		Token: Secret{string(tok)}, NeedsRecheck: now.Sub(fromDB(r.checked)) >= s.recheck}, nil
}

// recordFAST writes what a FAST login changes: the waiting token promoted (if
// no concurrent login did it first), the counter (only upward: a concurrent
// replay loses here), the use.
func (s *Store) recordFAST(ctx context.Context, id string, seenNext []byte, promoted bool, count int64, addr string, now time.Time) error {
	return s.tx(ctx, "record FAST use", func(tx *sql.Tx) ([]Event, error) {
		if promoted {
			if _, err := tx.ExecContext(ctx, `UPDATE credentials SET sealed_key_id = next_key_id, sealed_secret = next_secret,
				expires_at = next_expires_at, next_key_id = NULL, next_secret = NULL, next_expires_at = NULL
				WHERE id = $1 AND next_secret = $2`, id, seenNext); err != nil {
				return nil, err
			}
		}
		if count >= 0 {
			res, err := tx.ExecContext(ctx, `UPDATE credentials SET last_count = $1
				WHERE id = $2 AND (last_count IS NULL OR last_count < $1)`, count, id)
			if err != nil {
				return nil, err
			}
			if err := oneRow(res); errors.Is(err, ErrNotFound) {
				return nil, ErrReplayed
			} else if err != nil {
				return nil, err
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE credentials SET last_used_at = $1, last_used_addr = $2 WHERE id = $3`,
			toDB(now), addr, id)
		return nil, err
	})
}

// fastRow is one device's row as VerifyFAST reads it.
type fastRow struct {
	id, grant, label, mech                   string
	created, expires, nextExpires, lastCount sql.NullInt64
	lastUsed, revoked, checked, disabled     sql.NullInt64
	keyID, nextKeyID, lastAddr               sql.NullString
	sealed, next                             []byte
}

// matchFAST tries the waiting token first (a rotated client uses it), then the
// current one. promoted: the waiting one matched; r.expires is then its expiry.
func (s *Store) matchFAST(r *fastRow, match func([]byte) bool) (promoted bool, token []byte, err error) {
	if r.next != nil {
		tok, err := s.keys.open(r.nextKeyID.String, r.next, fastAAD(r.id))
		if err != nil {
			return false, nil, err
		}
		if match(tok) {
			r.expires = r.nextExpires
			return true, tok, nil
		}
	}
	tok, err := s.keys.open(r.keyID.String, r.sealed, fastAAD(r.id))
	if err != nil {
		return false, nil, err
	}
	if !match(tok) {
		return false, nil, ErrNotFound
	}
	return false, tok, nil
}

// ListFAST returns the owner's active FAST tokens (one per device), newest first.
func (s *Store) ListFAST(ctx context.Context, jid string) ([]FASTToken, error) {
	if s.closed.Load() {
		return nil, s.fail("list FAST tokens", ErrClosed)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT id, grant_id, label, user_agent_id, mechanism, created_at,
			expires_at, last_used_at, last_used_addr
		FROM credentials WHERE owner_jid = $1 AND kind = $2 AND revoked_at IS NULL ORDER BY created_at DESC, id`,
		jid, string(kindFAST))
	if err != nil {
		return nil, s.fail("list FAST tokens", err)
	}
	defer rows.Close()
	var out []FASTToken
	for rows.Next() {
		t := FASTToken{Owner: jid}
		var created, expires, used sql.NullInt64
		var addr sql.NullString
		if err := rows.Scan(&t.ID, &t.GrantID, &t.Label, &t.UserAgentID, &t.Mechanism, &created, &expires, &used, &addr); err != nil {
			return nil, s.fail("list FAST tokens", err)
		}
		t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.LastUsedAddr = fromDB(created), fromDB(expires), fromDB(used), addr.String
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list FAST tokens", err)
	}
	return out, nil
}

// revokeChildren revokes, in tx, the FAST tokens minted by logins with the
// credential id, and returns their events.
func revokeChildren(ctx context.Context, tx *sql.Tx, owner, id string, at time.Time) ([]Event, error) {
	rows, err := tx.QueryContext(ctx, `UPDATE credentials SET revoked_at = $1, revoked_reason = $2
		WHERE parent_id = $3 AND owner_jid = $4 AND revoked_at IS NULL RETURNING id, grant_id`,
		toDB(at), reasonParentRevoked, id, owner)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var events []Event
	for rows.Next() {
		var child, grant string
		if err := rows.Scan(&child, &grant); err != nil {
			return nil, err
		}
		events = append(events, Event{Kind: EventCredentialRevoked, Owner: owner, GrantID: grant,
			CredentialID: child, Reason: reasonParentRevoked})
	}
	return events, rows.Err()
}

const reasonParentRevoked = "the app password it came from was revoked"
