//go:build !linux

package dbtest

import "syscall"

// childSysProcAttr returns nil: there is no portable parent-death signal
// outside Linux, so the server is only cleaned up by MariaDB.Stop.
func childSysProcAttr() *syscall.SysProcAttr {
	return nil
}
