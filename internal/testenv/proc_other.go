//go:build !linux

package testenv

import "syscall"

// sysProcAttr puts a service in its own process group so Close can kill it.
// Parent-death signals exist on Linux only.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
