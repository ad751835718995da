package proxy

import "syscall"

const canWaitReadable = true

// waitReadable returns once the socket has data, EOF or an error for Read to find,
// or when its read deadline passes. It peeks rather than reads, because the runtime's
// poller is edge-triggered: bytes left by an earlier read raise no new event.
func waitReadable(rc syscall.RawConn) error {
	var one [1]byte
	var err error
	cerr := rc.Read(func(fd uintptr) bool {
		_, _, err = syscall.Recvfrom(int(fd), one[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN
	})
	return cerr
}
