package loaders

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound is matched (errors.Is) by every error saying a data set is not
// on disk; the concrete error is a *NotFoundError naming the command that
// fetches it.
var ErrNotFound = errors.New("data set not found")

// ErrUnavailable is matched by Fetch errors for a source that cannot be
// reached: not in the mirror, network unreachable, or an HTTP error status.
// "mcdood data fetch --missing-ok" turns these into warnings. Corrupt or
// mismatching downloads are not ErrUnavailable.
var ErrUnavailable = errors.New("source unavailable")

// NotFoundError says which data set is missing, where it was looked for, and
// which "mcdood data fetch" command gets it.
type NotFoundError struct {
	Name   string   // catalog name ("cifar10", "lsun-crop")
	Root   string   // the data root searched
	Looked []string // paths tried, in order
	Fetch  string   // the fetch name that gets it, "" if none
}

func (e *NotFoundError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: not found under %s (looked for %s)", e.Name, e.Root, strings.Join(e.Looked, ", "))
	if e.Fetch != "" {
		fmt.Fprintf(&b, "; get it with: %s", FetchCommand(e.Root, e.Fetch))
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }
