package proxy

import (
	"bytes"
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// direction is one way of a relay. While its source has data, a goroutine runs its
// copy loop; once the source is drained it parks on the reactor (reactor_linux.go)
// and the goroutine returns, so an idle session keeps no goroutine and no stack.
// The reactor, or a cut, starts a fresh goroutine that resumes the loop.
// Where no reactor exists the goroutine waits on the socket instead, as before.
type direction struct {
	r                *relay
	src              *reader
	dst              net.Conn
	tail             *tail
	end              func(werr error) // the relay's closing logic for this way
	trimLeadingSpace bool             // drop whitespace before the first other byte
	n                int64            // bytes moved

	mu     sync.Mutex
	cut    time.Time // the read deadline cutAt set; zero: none
	parked bool      // registered with the reactor, no goroutine running
	wake   bool      // read without waiting: the reactor saw data, or a cut is due
	done   bool      // the loop has ended for good
	token  uint64    // the reactor's key for the current registration, 0 when none
}

// run is the copy loop; it returns when the direction parks or ends.
func (d *direction) run() {
	for {
		if d.src.mustWait() {
			if reactorReady() {
				if !d.hotWait() && d.park() {
					return
				}
			} else if err := waitReadable(d.src.raw); err != nil {
				d.finish(nil)
				return
			}
		}
		rerr, werr := d.src.next(d.write)
		if rerr != nil || werr != nil {
			d.finish(werr)
			return
		}
	}
}

func (d *direction) write(p []byte) error {
	if d.trimLeadingSpace {
		if p = bytes.TrimLeft(p, xmlSpace); len(p) == 0 {
			return nil
		}
		d.trimLeadingSpace = false
	}
	d.tail.add(p)
	d.n += int64(len(p))
	return d.r.write(d.dst, p)
}

// hotWindow is how long a direction that just moved data keeps its goroutine
// waiting on the socket before it parks on the reactor: a busy session pays no
// reactor wake-up and no goroutine start per message, an idle one still parks.
const hotWindow = 250 * time.Millisecond

// hotWait waits, keeping this goroutine, until the source is readable or
// hotWindow has passed. It reports whether the loop should read now (data, an
// error, or a cut for the read to find) rather than park.
func (d *direction) hotWait() bool {
	d.mu.Lock()
	if !d.cut.IsZero() || d.wake {
		d.mu.Unlock()
		return true
	}
	_ = d.src.src.SetReadDeadline(time.Now().Add(hotWindow))
	d.mu.Unlock()
	err := waitReadable(d.src.raw)
	d.mu.Lock()
	defer d.mu.Unlock()
	_ = d.src.src.SetReadDeadline(d.cut) // zero when no cut is due
	return err == nil || !d.cut.IsZero() || !errors.Is(err, os.ErrDeadlineExceeded)
}

// park registers the drained source with the reactor and reports true, unless a
// wake is already due: then the caller reads at once.
func (d *direction) park() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.wake {
		d.wake = false
		return false
	}
	if err := d.arm(); err != nil {
		return false // the socket is closed or broken: the read reports it
	}
	d.parked = true
	return true
}

// resume is the reactor's callback for a ready registration.
func (d *direction) resume(token uint64) {
	d.mu.Lock()
	if !d.parked || d.token != token {
		d.mu.Unlock()
		return // stale: this registration is gone or was already woken
	}
	d.parked, d.wake = false, true
	d.mu.Unlock()
	go d.run()
}

// kick makes the loop read once without waiting for data: parked, it resumes at
// once; running, its next wait is skipped. A read past the source's read deadline
// fails, which is how cutAt ends a direction.
func (d *direction) kick() {
	d.mu.Lock()
	if d.done {
		d.mu.Unlock()
		return
	}
	d.wake = true
	if !d.parked {
		d.mu.Unlock()
		return
	}
	d.parked = false
	d.mu.Unlock()
	go d.run()
}

// cutAt sets the source's read deadline to t and makes sure the loop reads (and so
// fails) once t has passed, even while parked with no goroutine to see the deadline.
func (d *direction) cutAt(t time.Time) {
	d.mu.Lock()
	d.cut = t
	_ = d.src.src.SetReadDeadline(t)
	d.mu.Unlock()
	if wait := time.Until(t); wait > 0 {
		time.AfterFunc(wait, d.kick)
		return
	}
	d.kick()
}

// finish ends the direction: the registration goes before any conn is closed (so a
// reused fd number is never touched), then the relay's closing logic runs.
func (d *direction) finish(werr error) {
	d.mu.Lock()
	d.done = true
	d.disarm()
	d.mu.Unlock()
	defer d.r.c.s.wg.Done()
	defer d.r.finish()
	d.end(werr)
}
