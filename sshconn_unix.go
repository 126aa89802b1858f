//go:build unix && !linux

package oneshot

import "syscall"

// commandProcAttr runs a connection's command in a session of its own (as
// the docker CLI does: the terminal's Ctrl-C does not reach it).
func commandProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true}
}
