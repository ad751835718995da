package app_test

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// soakRun is the soak's bookkeeping: what was sent, acked by the server, and
// delivered to the receiver, per pair and sequence number.
type soakRun struct {
	stop   atomic.Bool
	paused atomic.Bool

	sent, resent, bounced atomic.Int64

	mu        sync.Mutex
	ackedSeq  map[int]map[uint64]bool
	delivered map[int]map[uint64]int
	logins    map[string]int // session logins by outcome
	churn     map[string]int // churn logins (PLAIN, IdP password) by outcome
	streamErr map[string]int
	firstErr  map[string]string // the first error behind each failed login outcome
}

func newSoakRun() *soakRun {
	return &soakRun{ackedSeq: map[int]map[uint64]bool{}, delivered: map[int]map[uint64]int{},
		logins: map[string]int{}, churn: map[string]int{}, streamErr: map[string]int{}, firstErr: map[string]string{}}
}

func (r *soakRun) stopped() bool { return r.stop.Load() }

func (r *soakRun) count(m map[string]int, k string) {
	r.mu.Lock()
	m[k]++
	r.mu.Unlock()
}

func (r *soakRun) login(outcome string) { r.count(r.logins, outcome) }

func (r *soakRun) loginCount(outcome string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logins[outcome]
}

// loginFailed counts a failed session login and keeps its first error.
func (r *soakRun) loginFailed(err error) {
	outcome := loginOutcome(err)
	r.count(r.logins, outcome)
	r.mu.Lock()
	if _, ok := r.firstErr[outcome]; !ok {
		r.firstErr[outcome] = err.Error()
	}
	r.mu.Unlock()
}
func (r *soakRun) churnLogin(outcome string) { r.count(r.churn, outcome) }
func (r *soakRun) streamError(cond string)   { r.count(r.streamErr, cond) }

func (r *soakRun) acked(pair int, seq uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ackedSeq[pair] == nil {
		r.ackedSeq[pair] = map[uint64]bool{}
	}
	r.ackedSeq[pair][seq] = true
}

// received records a message by the "pair:seq" in its body.
func (r *soakRun) received(pair int, el element) {
	if el.attr("type") == "error" {
		r.bounced.Add(1)
		return
	}
	i := strings.Index(el.Inner, "<body>")
	j := strings.Index(el.Inner, "</body>")
	if i < 0 || j < i {
		return
	}
	p, s, ok := strings.Cut(el.Inner[i+len("<body>"):j], ":")
	from, err1 := strconv.Atoi(p)
	seq, err2 := strconv.ParseUint(s, 10, 64)
	if !ok || err1 != nil || err2 != nil || from != pair {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.delivered[pair] == nil {
		r.delivered[pair] = map[uint64]int{}
	}
	r.delivered[pair][seq]++
}

// soakTotals are the figures the soak reports and checks.
type soakTotals struct {
	sent, resent, acked, delivered, lost, duplicated, bounced int64
}

func (r *soakRun) totals() soakTotals {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := soakTotals{sent: r.sent.Load(), resent: r.resent.Load(), bounced: r.bounced.Load()}
	for pair, seqs := range r.ackedSeq {
		t.acked += int64(len(seqs))
		for seq := range seqs {
			if r.delivered[pair][seq] == 0 {
				t.lost++
			}
		}
	}
	for _, seqs := range r.delivered {
		for _, n := range seqs {
			t.delivered++
			t.duplicated += int64(n - 1)
		}
	}
	return t
}

func (t soakTotals) String() string {
	return fmt.Sprintf("sent %d (resent %d), acked %d, delivered %d, lost %d, duplicated %d, bounced %d",
		t.sent, t.resent, t.acked, t.delivered, t.lost, t.duplicated, t.bounced)
}

func (r *soakRun) outcomes() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := func(m map[string]int) string {
		var parts []string
		for k, v := range m {
			parts = append(parts, fmt.Sprintf("%s %d", k, v))
		}
		sort.Strings(parts)
		return strings.Join(parts, ", ")
	}
	out := "session logins: " + f(r.logins) + "; churn logins: " + f(r.churn) + "; stream errors: " + f(r.streamErr)
	for k, v := range r.firstErr {
		out += fmt.Sprintf("\n  first %s: %.300s", k, v)
	}
	return out
}

// soakSample is one measurement of the proxy during the run.
type soakSample struct {
	at         time.Duration
	heap       int64
	goroutines int64
}
