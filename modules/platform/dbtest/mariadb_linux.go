//go:build linux

package dbtest

import "syscall"

// childSysProcAttr returns the process attributes for the MariaDB child
// processes. On Linux the kernel delivers SIGKILL to the child when the
// parent (the test binary) dies, so an aborted test run does not leave a
// stray mariadbd behind.
//
// Pdeathsig is tied to the OS thread that forked the child rather than the
// whole process; the Go runtime only retires threads when a goroutine exits
// while locked to one, which this package never does.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
