package credstore

import (
	"context"
	"database/sql"
	"fmt"
)

// rotateBatch bounds one transaction of Rotate, so a large store does not
// hold SQLite's write lock for long.
const rotateBatchSize = 100

// Rotate re-encrypts every stored refresh token that is not under the
// current encryption key and returns how many it re-encrypted. Once it
// returns, the old keys can be removed from the configuration. Safe to run
// while the store is in use, on several replicas at once: each row is
// rewritten only if its key id is still the one read.
func (s *Store) Rotate(ctx context.Context) (int, error) {
	total := 0
	for {
		n, seen, err := s.rotateBatch(ctx)
		total += n
		if err != nil || seen == 0 {
			return total, err
		}
	}
}

// rotateBatch returns how many rows it re-encrypted and how many it read.
func (s *Store) rotateBatch(ctx context.Context) (rotated, seen int, err error) {
	err = s.tx(ctx, "rotate", func(tx *sql.Tx) ([]Event, error) {
		type row struct {
			id, keyID string
			sealed    []byte
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, refresh_key_id, refresh_token FROM grants
			WHERE refresh_token IS NOT NULL AND refresh_key_id <> $1 ORDER BY id LIMIT $2`,
			s.keys.current, rotateBatchSize)
		if err != nil {
			return nil, err
		}
		var batch []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.keyID, &r.sealed); err != nil {
				rows.Close()
				return nil, err
			}
			batch = append(batch, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		seen = len(batch)
		for _, r := range batch {
			plain, err := s.keys.open(r.keyID, r.sealed, grantAAD(r.id))
			if err != nil {
				return nil, fmt.Errorf("grant %s: %w", r.id, err)
			}
			keyID, sealed := s.keys.seal(plain, grantAAD(r.id))
			res, err := tx.ExecContext(ctx, `UPDATE grants SET refresh_key_id = $1, refresh_token = $2
				WHERE id = $3 AND refresh_key_id = $4`, keyID, sealed, r.id, r.keyID)
			if err != nil {
				return nil, err
			}
			if oneRow(res) == nil { // else another replica was first
				rotated++
			}
		}
		return nil, nil
	})
	return rotated, seen, err
}
