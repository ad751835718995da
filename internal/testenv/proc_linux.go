package testenv

import "syscall"

// sysProcAttr puts a service in its own process group (so Close can kill it
// and anything it forks) and has the kernel kill it if this process dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
