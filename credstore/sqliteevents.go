package credstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"
)

// On SQLite a revocation is published in process at once, and also written
// to the events table, which every other process on the same file (the
// operator's CLI revoking while the proxy runs) polls.
const (
	sqliteEventPoll      = 500 * time.Millisecond
	sqliteEventRetention = time.Hour
)

// logEvent appends ev to the events table in the revoking transaction and
// prunes old entries, always keeping the newest so seq never restarts.
func (s *Store) logEvent(ctx context.Context, tx *sql.Tx, ev Event) error {
	payload, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	now := s.now()
	if _, err := tx.ExecContext(ctx, `INSERT INTO events (seq, origin, created_at, payload)
		VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM events), $1, $2, $3)`,
		s.origin, toDB(now), string(payload)); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM events
		WHERE created_at < $1 AND seq < (SELECT MAX(seq) FROM events)`, toDB(now.Add(-sqliteEventRetention)))
	return err
}

// startEventPoller follows the events table from its current end and
// publishes other processes' events here.
func (s *Store) startEventPoller(ctx context.Context) error {
	s.origin = newID()
	var cursor int64
	if err := s.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&cursor); err != nil {
		return err
	}
	pctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(sqliteEventPoll)
		defer tick.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-tick.C:
				cursor = s.pollEvents(pctx, cursor)
			}
		}
	}()
	s.stop = func() { cancel(); <-done }
	return nil
}

// pollEvents publishes the events after cursor and returns the new cursor.
// A gap (entries pruned while this process was not reading) is a resync.
// A failed read is tried again at the next tick.
func (s *Store) pollEvents(ctx context.Context, cursor int64) int64 {
	rows, err := s.read.QueryContext(ctx, `SELECT seq, origin, payload FROM events WHERE seq > $1 ORDER BY seq`, cursor)
	if err != nil {
		return cursor
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var origin, payload string
		if err := rows.Scan(&seq, &origin, &payload); err != nil {
			return cursor
		}
		if seq != cursor+1 {
			s.events.publish(Event{Kind: EventResync})
		}
		cursor = seq
		var ev Event
		if origin != s.origin && json.Unmarshal([]byte(payload), &ev) == nil {
			s.events.publish(ev)
		}
	}
	return cursor
}
