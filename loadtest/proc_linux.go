package loadtest

import "syscall"

// childAttr puts a child in its own process group (a terminal's Ctrl-C goes
// to the parent, which stops the children in order) and has the kernel kill
// it if the parent dies.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
