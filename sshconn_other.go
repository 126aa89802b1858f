//go:build !unix

package oneshot

import "syscall"

// commandProcAttr: a connection's command runs as any child process.
func commandProcAttr() *syscall.SysProcAttr { return nil }
