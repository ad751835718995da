package credstore

import (
	"sync"
)

// EventKind says what happened.
type EventKind string

const (
	// EventCredentialRevoked: one credential (CredentialID) was revoked.
	EventCredentialRevoked EventKind = "credential_revoked"
	// EventGrantDisabled: a grant and every credential on it are disabled.
	EventGrantDisabled EventKind = "grant_disabled"
	// EventResync: events may have been missed (the PostgreSQL listener
	// reconnected, or SQLite's event log was pruned past this store); a
	// subscriber should re-check its live sessions with the store.
	EventResync EventKind = "resync"
)

// Event tells the live-session layer to end sessions. It names ids only,
// never a secret.
type Event struct {
	Kind         EventKind `json:"k"`
	Owner        string    `json:"o,omitempty"` // bare JID
	GrantID      string    `json:"g,omitempty"`
	CredentialID string    `json:"c,omitempty"` // EventCredentialRevoked only
	Reason       string    `json:"r,omitempty"`
}

// Subscription delivers events in order. Nothing is dropped: a slow reader
// queues events in memory rather than delaying a revocation elsewhere.
type Subscription struct {
	out    chan Event
	done   chan struct{}
	wake   chan struct{}
	broker *broker

	mu      sync.Mutex
	pending []Event
	once    sync.Once
}

// Events is closed when the subscription or the store is closed.
func (sub *Subscription) Events() <-chan Event { return sub.out }

// Close stops delivery. It is safe to call more than once.
func (sub *Subscription) Close() {
	sub.broker.remove(sub)
	sub.once.Do(func() { close(sub.done) })
}

func (sub *Subscription) push(ev Event) {
	sub.mu.Lock()
	sub.pending = append(sub.pending, ev)
	sub.mu.Unlock()
	select {
	case sub.wake <- struct{}{}:
	default:
	}
}

// pump moves queued events to the channel until Close.
func (sub *Subscription) pump() {
	defer close(sub.out)
	for {
		sub.mu.Lock()
		batch := sub.pending
		sub.pending = nil
		sub.mu.Unlock()
		for _, ev := range batch {
			select {
			case sub.out <- ev:
			case <-sub.done:
				return
			}
		}
		select {
		case <-sub.wake:
		case <-sub.done:
			return
		}
	}
}

// Subscribe returns a subscription to revocations made through any store
// on the same database: every replica's on PostgreSQL (LISTEN), every
// process's on the same SQLite file (the events table).
func (s *Store) Subscribe() *Subscription {
	sub := &Subscription{
		out:    make(chan Event),
		done:   make(chan struct{}),
		wake:   make(chan struct{}, 1),
		broker: s.events,
	}
	if !s.events.add(sub) {
		sub.Close()
	}
	go sub.pump()
	return sub
}

// broker fans events out to the subscriptions of one Store.
type broker struct {
	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
}

func newBroker() *broker { return &broker{subs: map[*Subscription]struct{}{}} }

func (b *broker) add(sub *Subscription) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.subs[sub] = struct{}{}
	return true
}

func (b *broker) remove(sub *Subscription) {
	b.mu.Lock()
	delete(b.subs, sub)
	b.mu.Unlock()
}

func (b *broker) publish(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for sub := range b.subs {
		sub.push(ev)
	}
}

func (b *broker) close() {
	b.mu.Lock()
	subs := b.subs
	b.subs, b.closed = nil, true
	b.mu.Unlock()
	for sub := range subs {
		sub.once.Do(func() { close(sub.done) })
	}
}
