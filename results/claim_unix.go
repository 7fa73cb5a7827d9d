//go:build unix

package results

import (
	"errors"
	"syscall"
)

// processAlive reports whether a process with this pid runs on this host
// (one owned by another user counts as running).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
