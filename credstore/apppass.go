package credstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxLabelLength bounds a device label, in characters.
const MaxLabelLength = 64

// Owner is who a grant and its credentials belong to.
type Owner struct {
	JID     string // bare JID the user logs in as; compared exactly, so the caller normalises it
	Subject string // the IdP's sub claim
}

// AppPassword describes an app password; it never holds the password.
type AppPassword struct {
	ID            string
	GrantID       string
	Owner         string // bare JID
	Label         string // as given: escape it when rendering
	CreatedAt     time.Time
	LastUsedAt    time.Time // zero: never used
	LastUsedAddr  string
	LastUsedAgent string // what the client called itself (XEP-0388), if it said

	RevokedAt     time.Time // zero: active
	RevokedReason string
}

// NewAppPassword asks for an app password.
type NewAppPassword struct {
	Owner Owner
	Label string
	// GrantID attaches the password to an existing grant of the same owner
	// (a second password from the same sign-in; RefreshToken is then
	// ignored). Empty: a new grant is made with RefreshToken, in the same
	// transaction.
	GrantID      string
	RefreshToken string
}

// CreateAppPassword stores a new app password and returns it with its
// plaintext, which is shown once and never stored.
func (s *Store) CreateAppPassword(ctx context.Context, req NewAppPassword) (AppPassword, Secret, error) {
	if err := checkLabel(req.Label); err != nil {
		return AppPassword{}, Secret{}, err
	}
	if req.Owner.JID == "" || req.Owner.Subject == "" {
		return AppPassword{}, Secret{}, errors.New("credstore: create app password: owner needs a JID and a subject")
	}
	if req.GrantID == "" && req.RefreshToken == "" {
		return AppPassword{}, Secret{}, errors.New("credstore: create app password: a new grant needs a refresh token")
	}
	plain := newAppPassword()
	norm, _ := normalizePassword(plain)
	now := s.now()
	ap := AppPassword{
		ID:        newID(),
		GrantID:   req.GrantID,
		Owner:     req.Owner.JID,
		Label:     req.Label,
		CreatedAt: fromDB(toDB(now)), // as stored
	}
	err := s.tx(ctx, "create app password", func(tx *sql.Tx) ([]Event, error) {
		if ap.GrantID == "" {
			ap.GrantID = newID()
			if err := s.insertGrant(ctx, tx, ap.GrantID, req.Owner, req.RefreshToken, now); err != nil {
				return nil, err
			}
		} else if err := usableGrant(ctx, tx, ap.GrantID, req.Owner.JID); err != nil {
			return nil, err
		}
		salt, iterations, err := scramSalt(ctx, tx, ap.Owner)
		if err != nil {
			return nil, err
		}
		stored, server, err := scramKeysFor(ap.Owner, plain, salt, iterations)
		if err != nil {
			return nil, err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO credentials
			(id, grant_id, kind, owner_jid, label, secret_hash, created_at, scram_stored_key, scram_server_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			ap.ID, ap.GrantID, string(kindAppPassword), ap.Owner, ap.Label,
			secretHash(s.hashKey, kindAppPassword, norm), toDB(now), stored, server)
		return nil, err
	})
	if err != nil {
		return AppPassword{}, Secret{}, err
	}
	return ap, Secret{plain}, nil
}

// usableGrant checks that a grant exists, is the owner's and not disabled.
func usableGrant(ctx context.Context, tx *sql.Tx, id, ownerJID string) error {
	var owner string
	var disabled sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT owner_jid, disabled_at FROM grants WHERE id = $1`, id).Scan(&owner, &disabled)
	switch {
	case errors.Is(err, sql.ErrNoRows) || err == nil && owner != ownerJID:
		return fmt.Errorf("grant: %w", ErrNotFound)
	case err != nil:
		return err
	case disabled.Valid:
		return fmt.Errorf("grant: %w", ErrRevoked)
	}
	return nil
}

// checkLabel admits 1..MaxLabelLength printable characters. Control
// characters would break log lines and the CLI's table.
func checkLabel(label string) error {
	if label == "" || !utf8.ValidString(label) {
		return fmt.Errorf("%w: empty or not UTF-8", ErrInvalidLabel)
	}
	if n := utf8.RuneCountInString(label); n > MaxLabelLength {
		return fmt.Errorf("%w: %d characters, at most %d", ErrInvalidLabel, n, MaxLabelLength)
	}
	for _, r := range label {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: control character", ErrInvalidLabel)
		}
	}
	return nil
}

// List returns the owner's app passwords, newest first, revoked ones too
// (RevokedAt set) so the page can say why one stopped working.
func (s *Store) List(ctx context.Context, jid string) ([]AppPassword, error) {
	if s.closed.Load() {
		return nil, s.fail("list", ErrClosed)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT id, grant_id, owner_jid, label, created_at,
			last_used_at, last_used_addr, last_used_agent, revoked_at, revoked_reason
		FROM credentials WHERE owner_jid = $1 AND kind = $2 ORDER BY created_at DESC, id`,
		jid, string(kindAppPassword))
	if err != nil {
		return nil, s.fail("list", err)
	}
	defer rows.Close()
	var out []AppPassword
	for rows.Next() {
		var ap AppPassword
		var created, lastUsed, revoked sql.NullInt64
		var lastAddr, lastAgent, reason sql.NullString
		if err := rows.Scan(&ap.ID, &ap.GrantID, &ap.Owner, &ap.Label, &created,
			&lastUsed, &lastAddr, &lastAgent, &revoked, &reason); err != nil {
			return nil, s.fail("list", err)
		}
		ap.CreatedAt, ap.LastUsedAt, ap.RevokedAt = fromDB(created), fromDB(lastUsed), fromDB(revoked)
		ap.LastUsedAddr, ap.LastUsedAgent, ap.RevokedReason = lastAddr.String, lastAgent.String, reason.String
		out = append(out, ap)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list", err)
	}
	return out, nil
}

// ReasonRevokedByUser is the reason Revoke records.
const ReasonRevokedByUser = "revoked by user"

// Revoke revokes one of the owner's app passwords (or FAST tokens), and the
// FAST tokens minted by logins with it, and announces each.
// Another owner's id, or one already revoked: ErrNotFound.
func (s *Store) Revoke(ctx context.Context, jid, id string) error {
	return s.tx(ctx, "revoke", func(tx *sql.Tx) ([]Event, error) {
		var grantID string
		err := tx.QueryRowContext(ctx, `UPDATE credentials SET revoked_at = $1, revoked_reason = $2
			WHERE id = $3 AND owner_jid = $4 AND revoked_at IS NULL RETURNING grant_id`,
			toDB(s.now()), ReasonRevokedByUser, id, jid).Scan(&grantID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		if err != nil {
			return nil, err
		}
		children, err := revokeChildren(ctx, tx, jid, id, s.now())
		return append([]Event{{Kind: EventCredentialRevoked, Owner: jid, GrantID: grantID,
			CredentialID: id, Reason: ReasonRevokedByUser}}, children...), err
	})
}
