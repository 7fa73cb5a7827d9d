package loaders

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// FetchCommand is the command that fetches the named data sets (fetch
// names, FetchNames) into root: "mcdood data fetch --data ROOT NAME…";
// without "--data ROOT" when root is "".
func FetchCommand(root string, names ...string) string {
	cmd := "mcdood data fetch"
	if root != "" {
		cmd += " --data " + root
	}
	return strings.Join(append([]string{cmd}, names...), " ")
}

// ExpandFetchNames checks names against FetchNames, expands "all" into
// every one of them and drops repeats, keeping the first order.
func ExpandFetchNames(names []string) ([]string, error) {
	known := FetchNames()
	var list []string
	for _, n := range names {
		switch {
		case n == "all":
			list = append(list, known...)
		case slices.Contains(known, n):
			list = append(list, n)
		default:
			return nil, fmt.Errorf("unknown data set %q (want %s, all)", n, strings.Join(known, ", "))
		}
	}
	var out []string
	for _, n := range list {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// FetchEach fetches each of names (fetch names, ExpandFetchNames) into
// root, going on after a failure: each failure is an "error: …" line on
// opts.Log, or with missingOK a source that cannot be reached
// (ErrUnavailable) a "warning: … (skipped: --missing-ok)" line. The error
// names the sets that could not be fetched; a cancelled ctx stops at once.
func FetchEach(ctx context.Context, names []string, root string, opts FetchOptions, missingOK bool) error {
	var failed []string
	for _, n := range names {
		err := Fetch(ctx, n, root, opts)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case missingOK && errors.Is(err, ErrUnavailable):
			opts.logf("warning: %v (skipped: --missing-ok)", err)
		default:
			opts.logf("error: %v", err)
			failed = append(failed, n)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("could not fetch %s", strings.Join(failed, ", "))
	}
	return nil
}
