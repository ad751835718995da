package credstore

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
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
	return s.VerifyFrom(ctx, jid, password, clientAddr, "")
}

// VerifyFrom is Verify that also records what the client calls itself
// (agent, at most MaxLabelLength characters kept) with the use.
func (s *Store) VerifyFrom(ctx context.Context, jid, password, clientAddr, agent string) (Verified, error) {
	norm, ok := normalizePassword(password)
	if !ok {
		return Verified{}, fmt.Errorf("credstore: verify: %w", ErrNotFound)
	}
	return s.verifyWhere(ctx, `c.secret_hash = $1`, secretHash(s.hashKey, kindAppPassword, norm), jid, clientAddr, agent)
}

// VerifySCRAM lets in the app password id, whose SCRAM key the client's proof
// matched, with Verify's checks and use recording: it may have been revoked
// since the keys were read.
func (s *Store) VerifySCRAM(ctx context.Context, jid, id, clientAddr, agent string) (Verified, error) {
	return s.verifyWhere(ctx, `c.id = $1`, id, jid, clientAddr, agent)
}

// verifyWhere finds the app password that match ($1 = key) selects.
func (s *Store) verifyWhere(ctx context.Context, match string, key any, jid, clientAddr, agent string) (Verified, error) {
	agent = cleanAgent(agent)
	if s.closed.Load() {
		return Verified{}, s.fail("verify", ErrClosed)
	}
	var v Verified
	var created, lastUsed, revoked, checked, disabled sql.NullInt64
	var lastAddr, lastAgent, revokedReason, disabledReason sql.NullString
	err := s.read.QueryRowContext(ctx, `SELECT c.id, c.grant_id, c.owner_jid, c.label, c.created_at,
			c.last_used_at, c.last_used_addr, c.last_used_agent, c.revoked_at, c.revoked_reason,
			g.owner_sub, g.last_checked_at, g.disabled_at, g.disabled_reason
		FROM credentials c JOIN grants g ON g.id = c.grant_id
		WHERE `+match+` AND c.kind = $2`,
		key, string(kindAppPassword)).Scan(
		&v.ID, &v.GrantID, &v.Owner, &v.Label, &created,
		&lastUsed, &lastAddr, &lastAgent, &revoked, &revokedReason,
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
	v.CreatedAt, v.LastUsedAt, v.LastUsedAddr, v.LastUsedAgent = fromDB(created), fromDB(lastUsed), lastAddr.String, lastAgent.String
	v.NeedsRecheck = now.Sub(fromDB(checked)) >= s.recheck
	if v.LastUsedAddr != clientAddr || v.LastUsedAgent != agent || now.Sub(v.LastUsedAt) >= s.useStep {
		if err := s.recordUse(ctx, v.ID, clientAddr, agent, now); err != nil {
			return Verified{}, err
		}
		v.LastUsedAt, v.LastUsedAddr, v.LastUsedAgent = fromDB(toDB(now)), clientAddr, agent
	}
	return v, nil
}

func (s *Store) recordUse(ctx context.Context, id, addr, agent string, at time.Time) error {
	_, err := s.write.ExecContext(ctx,
		`UPDATE credentials SET last_used_at = $1, last_used_addr = $2, last_used_agent = $3 WHERE id = $4`,
		toDB(at), addr, sql.NullString{String: agent, Valid: agent != ""}, id)
	if err != nil {
		return s.fail("record use", err)
	}
	return nil
}

// cleanAgent keeps what a client calls itself printable and short.
func cleanAgent(agent string) string {
	agent = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, strings.TrimSpace(agent))
	for utf8.RuneCountInString(agent) > MaxLabelLength {
		_, n := utf8.DecodeLastRuneInString(agent)
		agent = agent[:len(agent)-n]
	}
	return agent
}
