//go:build !linux

package mailtest

import "syscall"

// childSysProcAttr returns nil: outside Linux there is no parent-death
// signal, so only Stop and Close end the server.
func childSysProcAttr() *syscall.SysProcAttr { return nil }
