//go:build unix

package results

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockPath opens path, creating it, and takes its flock (exclusive or
// shared) without waiting: nil and no error when another process holds a
// conflicting one.
func lockPath(path string, exclusive bool) (*os.File, error) {
	for range 100 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		if err := tryLock(f, exclusive); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, nil
			}
			return nil, fmt.Errorf("flock %s: %w", path, err)
		}
		// The previous holder removes the file as it leaves (Unlock): if
		// that happened between the open and the lock, lock the new file.
		fi, err := f.Stat()
		pi, perr := os.Stat(path)
		if err == nil && perr == nil && os.SameFile(fi, pi) {
			return f, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("%s keeps being removed and created again", path)
}

// tryLock takes f's flock without waiting.
func tryLock(f *os.File, exclusive bool) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// held reports whether a process holds a flock on path.
func held(path string) bool {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	return tryLock(f, true) != nil
}
