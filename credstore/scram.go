package credstore

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"

	"github.com/xdg-go/scram"
)

// SCRAM-SHA-256 keys of app passwords. All of a user's app passwords share
// one salt (made with the first of them), so one server-first message fits
// whichever the client holds; the keys are derived from the password as it is
// shown (lowercase groups with dashes), which is what a client hashes.

// SCRAMIterations is the PBKDF2 count for new users' salts: RFC 7677's
// minimum, which clients such as Strophe also insist on. App passwords are
// 141 random bits, so more iterations would only slow phones down.
const SCRAMIterations = 4096

// maxSCRAMCandidates bounds the keys one login tries (the newest ones).
const maxSCRAMCandidates = 64

// SCRAMKeys is a user's salt, iteration count and the keys of the usable app
// passwords that have them.
type SCRAMKeys struct {
	Salt       []byte
	Iterations int
	Keys       []SCRAMKey
}

// SCRAMKey is one app password's StoredKey and ServerKey.
type SCRAMKey struct {
	ID                   string // the app password's
	StoredKey, ServerKey []byte
}

// scramSalt returns the owner's salt, making it inside tx if there is none.
func scramSalt(ctx context.Context, tx *sql.Tx, owner string) (salt []byte, iterations int, err error) {
	fresh := make([]byte, 16)
	rand.Read(fresh)
	if _, err := tx.ExecContext(ctx, `INSERT INTO scram_salts (owner_jid, salt, iterations)
		VALUES ($1, $2, $3) ON CONFLICT (owner_jid) DO NOTHING`, owner, fresh, SCRAMIterations); err != nil {
		return nil, 0, err
	}
	err = tx.QueryRowContext(ctx, `SELECT salt, iterations FROM scram_salts WHERE owner_jid = $1`, owner).Scan(&salt, &iterations)
	return salt, iterations, err
}

// scramKeysFor derives the keys of password (as shown) under the owner's salt.
func scramKeysFor(owner, password string, salt []byte, iterations int) (stored, server []byte, err error) {
	c, err := scram.SHA256.NewClientUnprepped(owner, password, "")
	if err != nil {
		return nil, nil, err
	}
	sc := c.GetStoredCredentials(scram.KeyFactors{Salt: string(salt), Iters: iterations})
	return sc.StoredKey, sc.ServerKey, nil
}

// SCRAMKeys returns what a SCRAM login of jid needs: its salt and the keys of
// its active app passwords, newest first. A user without a salt gets one made
// up from the hash key, the same every time, and no keys: the answer does not
// tell whether the user exists.
func (s *Store) SCRAMKeys(ctx context.Context, jid string) (SCRAMKeys, error) {
	if s.closed.Load() {
		return SCRAMKeys{}, s.fail("scram keys", ErrClosed)
	}
	var k SCRAMKeys
	err := s.read.QueryRowContext(ctx, `SELECT salt, iterations FROM scram_salts WHERE owner_jid = $1`, jid).Scan(&k.Salt, &k.Iterations)
	if errors.Is(err, sql.ErrNoRows) {
		m := hmac.New(sha256.New, s.hashKey)
		m.Write([]byte("scram-salt\x00" + jid))
		return SCRAMKeys{Salt: m.Sum(nil)[:16], Iterations: SCRAMIterations}, nil
	}
	if err != nil {
		return SCRAMKeys{}, s.fail("scram keys", err)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT c.id, c.scram_stored_key, c.scram_server_key
		FROM credentials c JOIN grants g ON g.id = c.grant_id
		WHERE c.owner_jid = $1 AND c.kind = $2 AND c.revoked_at IS NULL AND g.disabled_at IS NULL
			AND c.scram_stored_key IS NOT NULL
		ORDER BY c.created_at DESC, c.id LIMIT $3`, jid, string(kindAppPassword), maxSCRAMCandidates)
	if err != nil {
		return SCRAMKeys{}, s.fail("scram keys", err)
	}
	defer rows.Close()
	for rows.Next() {
		var key SCRAMKey
		if err := rows.Scan(&key.ID, &key.StoredKey, &key.ServerKey); err != nil {
			return SCRAMKeys{}, s.fail("scram keys", err)
		}
		k.Keys = append(k.Keys, key)
	}
	if err := rows.Err(); err != nil {
		return SCRAMKeys{}, s.fail("scram keys", err)
	}
	return k, nil
}
