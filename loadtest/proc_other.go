//go:build !linux

package loadtest

import "syscall"

// childAttr puts a child in its own process group where supported; children
// also exit when their stdin (a pipe from the parent) closes.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
