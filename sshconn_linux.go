package oneshot

import "syscall"

// commandProcAttr runs a connection's command in a session of its own (as
// the docker CLI does: the terminal's Ctrl-C does not reach it), killed if
// this process dies first.
func commandProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
}
