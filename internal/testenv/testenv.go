// Package testenv finds what tests need from outside the repository: the
// read-only data mirror, and whether the run is CI (where a missing mirror is
// a failure, never a silent skip); and LogHook, to act on what a run logs.
package testenv

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// DataEnv names the variable that points tests at the data mirror.
const DataEnv = "MCDOOD_TEST_DATA"

// InCI reports whether tests run under CI (.ci/run sets CI=1).
func InCI() bool { return os.Getenv("CI") != "" }

// RepoRoot returns the directory holding go.mod, walking up from the test's
// working directory (its package folder).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}

// DataMirror returns the data mirror: $MCDOOD_TEST_DATA, else ../shared/data
// beside the repository. When it is missing the test is skipped locally and
// fails in CI, naming the path that was tried.
func DataMirror(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(DataEnv)
	if dir == "" {
		dir = filepath.Join(RepoRoot(t), "..", "shared", "data")
	}
	if _, err := os.Stat(dir); err != nil {
		if InCI() {
			t.Fatalf("data mirror missing at %s (set %s): %v", dir, DataEnv, err)
		}
		t.Skipf("data mirror missing at %s (set %s)", dir, DataEnv)
	}
	return dir
}

// Long skips a long test under -short, except in CI where every test runs.
func Long(t testing.TB) {
	t.Helper()
	if testing.Short() && !InCI() {
		t.Skip("long test; skipped under -short")
	}
}

// LogHook is a slog handler that calls itself with every record's message
// and attributes (all levels), for tests that act on what a run logs.
type LogHook func(msg string, attrs map[string]slog.Value)

func (h LogHook) Enabled(context.Context, slog.Level) bool { return true }
func (h LogHook) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h LogHook) WithGroup(string) slog.Handler            { return h }
func (h LogHook) Handle(_ context.Context, r slog.Record) error {
	attrs := map[string]slog.Value{}
	r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value; return true })
	h(r.Message, attrs)
	return nil
}
