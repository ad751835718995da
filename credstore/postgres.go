package credstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/jackc/pgxlisten"
)

// postgresConns bounds the pool per replica, so many replicas stay within
// the server's max_connections.
const postgresConns = 16

// notifyChannel carries revocations between replicas.
const notifyChannel = "credstore_events"

// listenerReconnectDelay: after the listening connection drops, how long
// before the next try. Short: revocations wait for it.
const listenerReconnectDelay = time.Second

// openPostgres opens the pool, migrates, and starts a listener that turns
// every replica's NOTIFY into events here (this store's own included).
// Open returns once the listener is listening, so nothing committed after
// Open is missed.
func (s *Store) openPostgres(ctx context.Context, dsn string, logf func(string, ...any)) error {
	if dsn == "" {
		return errors.New("no dsn")
	}
	// Parse first: a malformed DSN must not reach an error message whole.
	if _, err := pgx.ParseConfig(dsn); err != nil {
		return errors.New("dsn does not parse")
	}
	var err error
	s.write, err = sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	s.write.SetMaxOpenConns(postgresConns)
	s.read = s.write
	if err := s.write.PingContext(ctx); err != nil {
		return err
	}
	if err := migrate(ctx, s.write, DriverPostgres); err != nil {
		return err
	}

	ready := make(chan struct{})
	h := &notifyHandler{events: s.events, ready: ready}
	l := &pgxlisten.Listener{
		Connect:        func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, dsn) },
		ReconnectDelay: listenerReconnectDelay,
		LogError: func(ctx context.Context, err error) {
			if logf != nil && ctx.Err() == nil { // not the error Close causes
				logf("credstore: listener: %v", err)
			}
		},
	}
	l.Handle(notifyChannel, h)
	lctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Listen(lctx)
	}()
	s.stop = func() { cancel(); <-done }
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("listener not ready: %w", ctx.Err())
	}
}

// notify queues an event in the transaction; PostgreSQL delivers it to
// every listener when (and only if) the transaction commits.
func notify(ctx context.Context, tx *sql.Tx, ev Event) error {
	payload, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, notifyChannel, string(payload))
	return err
}

// notifyHandler publishes notifications to the local broker.
type notifyHandler struct {
	events    *broker
	ready     chan struct{}
	listening bool
}

func (h *notifyHandler) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	var ev Event
	if err := json.Unmarshal([]byte(n.Payload), &ev); err != nil {
		return fmt.Errorf("notification payload: %w", err)
	}
	h.events.publish(ev)
	return nil
}

// HandleBacklog runs each time LISTEN is (re)established: the first time
// Open may return; after a reconnect, events may have been missed.
func (h *notifyHandler) HandleBacklog(context.Context, string, *pgx.Conn) error {
	if !h.listening {
		h.listening = true
		close(h.ready)
		return nil
	}
	h.events.publish(Event{Kind: EventResync})
	return nil
}
