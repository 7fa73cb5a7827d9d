package loaders

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// Only regular files and folders are read. Anything else a path may name —
// a named pipe, a device, a socket — is an error naming it, found by
// stat before anything is opened, so that a named pipe cannot block the
// data pass in open(2) or read(2) where no signal but SIGKILL reaches it.

// openRegular opens the regular file at p (following symbolic links) for
// reading and returns it with its size. Anything else is an error naming p.
// The file is opened non-blocking and checked again after opening, so a
// pipe swapped in after the stat does not block either.
func openRegular(p string) (*os.File, int64, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		return nil, 0, notRegularError(p, st.Mode())
	}
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, err
	}
	st, err = f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = notRegularError(p, st.Mode())
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

// notRegularError says that p is not a regular file (nor a folder), naming
// what it is.
func notRegularError(p string, m fs.FileMode) error {
	return fmt.Errorf("%s: %s, not a regular file or a folder", p, modeName(m))
}

// modeName names a file's type for messages.
func modeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a folder"
	case m.IsRegular():
		return "a regular file"
	}
	return "a special file (" + m.Type().String() + ")"
}
