//go:build !linux

package proxy

import "syscall"

const canWaitReadable = false

func waitReadable(syscall.RawConn) error { return nil }
