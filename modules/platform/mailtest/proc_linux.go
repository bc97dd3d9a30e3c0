//go:build linux

package mailtest

import "syscall"

// childSysProcAttr makes the kernel SIGKILL mailpit when the test binary
// dies, so an aborted run (or the shared server, which nobody stops) leaves
// no stray process. Pdeathsig is tied to the thread that forked the child;
// the Go runtime retires threads only when a goroutine exits locked to one,
// which this package never does.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
