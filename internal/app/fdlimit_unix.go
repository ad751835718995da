//go:build unix

package app

import "syscall"

// openFileLimit is the soft RLIMIT_NOFILE (Go raises it to the hard limit at
// start on Linux); 0 when unknown.
func openFileLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	return uint64(l.Cur)
}
