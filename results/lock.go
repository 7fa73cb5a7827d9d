package results

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The lock files of a results directory (LockDir).
const (
	lockFile      = ".mcdood-lock"
	shardLockFile = ".mcdood-lock-shard-%d-of-%d"
)

// Lock is a run's claim on a results directory (LockDir); Unlock ends it.
type Lock struct {
	files []*os.File // in the order taken
	paths []string
}

// LockDir claims the results directory dir (creating it when missing) for
// a run of shard i of n, or of every cell when n ≤ 1, so that two runs do
// not compute the same cells: a run of every cell holds dir/.mcdood-lock
// exclusively; a shard holds it shared, and its own
// dir/.mcdood-lock-shard-I-of-N exclusively, so that different shards of
// one plan may share the folder (shards of different counts are not told
// apart). A claim held by another process is an error naming its pid, host
// and start. The locks are flock(2) locks, released by the kernel when the
// process ends however it ends, so a killed run never blocks the next; the
// files hold the holder's description and are removed by Unlock. It does
// not wait.
func LockDir(dir string, shard, shards int) (*Lock, error) {
	if dir == "" {
		return nil, fmt.Errorf("results: empty results directory")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	host, _ := os.Hostname()
	self := fmt.Sprintf("pid %d on host %s, started %s", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
	l := &Lock{}
	main := filepath.Join(dir, lockFile)
	if shards <= 1 {
		f, err := lockPath(main, true)
		if err != nil {
			return nil, fmt.Errorf("results: locking %s: %w", dir, err)
		}
		if f == nil {
			return nil, busyError(dir, "the whole plan", holders(dir))
		}
		l.add(f, main)
		if err := describe(f, self+", every cell"); err != nil {
			l.Unlock()
			return nil, err
		}
		return l, nil
	}
	f, err := lockPath(main, false)
	if err != nil {
		return nil, fmt.Errorf("results: locking %s: %w", dir, err)
	}
	if f == nil {
		return nil, busyError(dir, fmt.Sprintf("shard %d/%d", shard, shards), holders(dir))
	}
	l.add(f, main)
	mine := filepath.Join(dir, fmt.Sprintf(shardLockFile, shard, shards))
	g, err := lockPath(mine, true)
	if err != nil {
		l.Unlock()
		return nil, fmt.Errorf("results: locking %s: %w", dir, err)
	}
	if g == nil {
		l.Unlock()
		return nil, busyError(dir, fmt.Sprintf("shard %d/%d", shard, shards), []string{readHolder(mine)})
	}
	l.add(g, mine)
	if err := describe(g, self+fmt.Sprintf(", shard %d/%d", shard, shards)); err != nil {
		l.Unlock()
		return nil, err
	}
	return l, nil
}

func (l *Lock) add(f *os.File, path string) {
	l.files = append(l.files, f)
	l.paths = append(l.paths, path)
}

// Unlock releases the claim and removes the lock files no other run holds.
// It may be called more than once.
func (l *Lock) Unlock() error {
	if l == nil {
		return nil
	}
	var first error
	for i := len(l.files) - 1; i >= 0; i-- {
		// Removed only while held exclusively: a run that opened the file
		// meanwhile finds it unlinked once it gets the lock, and retries
		// (lockPath).
		if tryLock(l.files[i], true) == nil {
			os.Remove(l.paths[i])
		}
		if err := l.files[i].Close(); err != nil && first == nil {
			first = err
		}
	}
	l.files, l.paths = nil, nil
	return first
}

// busyError says who holds a results directory.
func busyError(dir, what string, holders []string) error {
	who := "another run"
	if len(holders) > 0 {
		who = "another run (" + strings.Join(holders, "; ") + ")"
	}
	return fmt.Errorf("results: %s is in use by %s, so this run (%s) would compute the same cells; wait for it to end, or give another output folder", dir, who, what)
}

// holders describes the runs that hold locks in dir: the shards holding
// theirs, else the run of every cell.
func holders(dir string) []string {
	var out []string
	paths, _ := filepath.Glob(filepath.Join(dir, ".mcdood-lock-shard-*"))
	for _, p := range paths {
		if held(p) {
			out = append(out, readHolder(p))
		}
	}
	if len(out) == 0 {
		out = append(out, readHolder(filepath.Join(dir, lockFile)))
	}
	return out
}

// readHolder is the description a holder wrote into its lock file.
func readHolder(path string) string {
	b, err := os.ReadFile(path)
	if s := strings.TrimSpace(string(b)); err == nil && s != "" {
		return s
	}
	return "its description is unreadable"
}

// describe writes the holder's description into its lock file.
func describe(f *os.File, s string) error {
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("results: %s: %w", f.Name(), err)
	}
	if _, err := f.WriteAt([]byte(s+"\n"), 0); err != nil {
		return fmt.Errorf("results: %s: %w", f.Name(), err)
	}
	return nil
}
