//go:build unix

package results

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Two runs of every cell on one folder: the second is refused, naming the
// first's pid and host; once the first ends the folder is free and its lock
// file gone.
func TestLockDirExcludesASecondRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	first, err := LockDir(dir, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	_, err = LockDir(dir, 0, 1)
	want := fmt.Sprintf("results: %s is in use by another run (pid %d on host %s, started ", dir, os.Getpid(), host)
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "every cell)") {
		t.Fatalf("second LockDir: %v, want %q...", err, want)
	}
	if _, err := LockDir(dir, 1, 2); err == nil {
		t.Fatal("a shard ran beside a run of every cell")
	}
	if err := first.Unlock(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left %v in %s", entries, dir)
	}
	again, err := LockDir(dir, 0, 1)
	if err != nil {
		t.Fatalf("after Unlock: %v", err)
	}
	again.Unlock()
	again.Unlock() // twice is harmless
}

// Shards of one plan share a folder; the same shard twice, or a run of
// every cell beside them, is refused naming the shards.
func TestLockDirShards(t *testing.T) {
	dir := t.TempDir()
	a, err := LockDir(dir, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Unlock()
	b, err := LockDir(dir, 1, 2)
	if err != nil {
		t.Fatalf("second shard: %v", err)
	}
	if _, err := LockDir(dir, 1, 2); err == nil || !strings.Contains(err.Error(), "shard 1/2)") {
		t.Errorf("shard 1/2 twice: %v", err)
	}
	_, err = LockDir(dir, 0, 1)
	if err == nil || !strings.Contains(err.Error(), "shard 0/2;") || !strings.Contains(err.Error(), "shard 1/2)") {
		t.Errorf("every cell beside two shards: %v", err)
	}
	b.Unlock()
	if _, err := LockDir(dir, 0, 1); err == nil || strings.Contains(err.Error(), "shard 1/2") {
		t.Errorf("every cell beside shard 0/2: %v", err)
	}
}

// A run killed with SIGKILL holds nothing: the kernel drops its lock.
func TestLockDirKilledHolder(t *testing.T) {
	if dir := os.Getenv("MCDOOD_LOCK_HOLDER"); dir != "" {
		// The child: take the lock, say so, wait to be killed.
		if _, err := LockDir(dir, 0, 1); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockDirKilledHolder$")
	cmd.Env = append(os.Environ(), "MCDOOD_LOCK_HOLDER="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "locked\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q", line)
	}
	if _, err := LockDir(dir, 0, 1); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("pid %d on host", cmd.Process.Pid)) {
		t.Errorf("beside the child: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := LockDir(dir, 0, 1)
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	l.Unlock()
}
