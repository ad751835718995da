package credstore

import (
	"context"
	"strconv"
	"strings"
)

// maxIDsPerQuery bounds the placeholders of one query (SQLite allows 32766).
const maxIDsPerQuery = 500

// Inactive returns which of ids no longer let anyone in: revoked, on a
// disabled grant, or unknown. After a resync event, a subscriber uses it to
// end the live sessions whose revocation it may have missed.
func (s *Store) Inactive(ctx context.Context, ids []string) ([]string, error) {
	if s.closed.Load() {
		return nil, s.fail("inactive", ErrClosed)
	}
	var out []string
	for len(ids) > 0 {
		batch := ids[:min(len(ids), maxIDsPerQuery)]
		ids = ids[len(batch):]
		args := make([]any, len(batch))
		marks := make([]string, len(batch))
		for i, id := range batch {
			args[i] = id
			marks[i] = "$" + strconv.Itoa(i+1)
		}
		rows, err := s.read.QueryContext(ctx, `SELECT c.id FROM credentials c JOIN grants g ON g.id = c.grant_id
			WHERE c.id IN (`+strings.Join(marks, ",")+`) AND c.revoked_at IS NULL AND g.disabled_at IS NULL`, args...)
		if err != nil {
			return nil, s.fail("inactive", err)
		}
		active := map[string]bool{}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, s.fail("inactive", err)
			}
			active[id] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, s.fail("inactive", err)
		}
		for _, id := range batch {
			if !active[id] {
				out = append(out, id)
			}
		}
	}
	return out, nil
}
