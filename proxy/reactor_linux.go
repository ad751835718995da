package proxy

import (
	"errors"
	"sync"
	"syscall"
	"time"
)

// reactor is one epoll instance and one goroutine for the whole process. Parked
// directions register their drained source socket with EPOLLONESHOT; when one
// becomes readable (or hangs up) the reactor starts a goroutine that resumes the
// direction's copy loop. The runtime's own poller watches the same fds in its own
// epoll set; two sets are allowed, and ours only ever sees level-triggered
// readiness, so bytes that arrived before the registration still wake it.
//
// Registrations are keyed by a token that is never reused, not by fd: a stale
// event for a registration that is gone finds nothing, and the fd itself is only
// touched inside RawConn.Control, which keeps it open, and never after finish.
type reactor struct {
	epfd int

	mu      sync.Mutex
	next    uint64
	waiting map[uint64]*direction
}

var (
	reactorOnce sync.Once
	theReactor  *reactor // nil when epoll is not available: fall back to waitReadable
)

// maxEvents bounds one epoll_wait; more ready fds wait for the next round.
const maxEvents = 128

func getReactor() *reactor {
	reactorOnce.Do(func() {
		fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return
		}
		theReactor = &reactor{epfd: fd, waiting: make(map[uint64]*direction)}
		go theReactor.loop()
	})
	return theReactor
}

func reactorReady() bool { return getReactor() != nil }

func (rc *reactor) loop() {
	var events [maxEvents]syscall.EpollEvent
	for {
		n, err := syscall.EpollWait(rc.epfd, events[:], -1)
		if err != nil {
			if !errors.Is(err, syscall.EINTR) {
				time.Sleep(10 * time.Millisecond) // not expected; do not spin
			}
			continue
		}
		for _, ev := range events[:n] {
			token := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			rc.mu.Lock()
			d := rc.waiting[token]
			rc.mu.Unlock()
			if d != nil {
				d.resume(token)
			}
		}
	}
}

// arm registers (or re-arms) d's source for one readiness event; d.mu is held.
func (d *direction) arm() error {
	rc := getReactor()
	rc.mu.Lock()
	rc.next++
	token := rc.next
	old := d.token
	rc.waiting[token] = d
	delete(rc.waiting, old)
	rc.mu.Unlock()

	op := syscall.EPOLL_CTL_MOD
	if old == 0 {
		op = syscall.EPOLL_CTL_ADD
	}
	ev := syscall.EpollEvent{
		Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT,
		Fd:     int32(uint32(token)),
		Pad:    int32(uint32(token >> 32)),
	}
	var cerr error
	err := d.src.raw.Control(func(fd uintptr) {
		cerr = syscall.EpollCtl(rc.epfd, op, int(fd), &ev)
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		rc.mu.Lock()
		delete(rc.waiting, token)
		rc.mu.Unlock()
		d.token = 0
		return err
	}
	d.token = token
	return nil
}

// disarm removes d's registration, if any; d.mu is held. It runs before the relay
// closes any conn, so the fd is still d's own.
func (d *direction) disarm() {
	if d.token == 0 {
		return
	}
	rc := getReactor()
	_ = d.src.raw.Control(func(fd uintptr) {
		_ = syscall.EpollCtl(rc.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
	rc.mu.Lock()
	delete(rc.waiting, d.token)
	rc.mu.Unlock()
	d.token = 0
}
