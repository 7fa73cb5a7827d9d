package results

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// newTestClaimer is a Claimer whose clock the test moves.
func newTestClaimer(t *testing.T, dir string, clock *time.Time) *Claimer {
	t.Helper()
	c, err := NewClaimer(dir, ClaimOptions{Stale: time.Minute, Heartbeat: 50 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if clock != nil {
		c.now = func() time.Time { return *clock }
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// writeForeignClaim writes generation gen of key as held by host/pid.
func writeForeignClaim(t *testing.T, dir, key string, gen int, host string, pid int) string {
	t.Helper()
	data, _ := json.Marshal(claimHolder{Host: host, PID: pid, Claimed: time.Now()})
	p := filepath.Join(dir, "claims", key+"."+string(rune('0'+gen))+".claim")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClaimExcludesAndReleases(t *testing.T) {
	dir := t.TempDir()
	a, b := newTestClaimer(t, dir, nil), newTestClaimer(t, dir, nil)
	cl, err := a.TryClaim("cell-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.TryClaim("cell-1"); !errors.Is(err, ErrClaimHeld) {
		t.Fatalf("second worker's claim: got %v, want ErrClaimHeld", err)
	}
	if _, err := b.TryClaim("cell-2"); err != nil {
		t.Fatalf("another key: %v", err)
	}
	if err := a.Release(cl); err != nil {
		t.Fatal(err)
	}
	if _, err := b.TryClaim("cell-1"); err != nil {
		t.Fatalf("after release: %v", err)
	}
	if _, err := a.TryClaim("../x"); err == nil {
		t.Fatal("a key with a path separator was accepted")
	}
}

// Many workers racing for one key: exactly one wins.
func TestClaimRace(t *testing.T) {
	dir := t.TempDir()
	const n = 16
	var wins sync.WaitGroup
	var mu sync.Mutex
	won := 0
	cs := make([]*Claimer, n)
	for i := range cs {
		cs[i] = newTestClaimer(t, dir, nil)
	}
	for _, c := range cs {
		wins.Add(1)
		go func() {
			defer wins.Done()
			if _, err := c.TryClaim("cell"); err == nil {
				mu.Lock()
				won++
				mu.Unlock()
			} else if !errors.Is(err, ErrClaimHeld) {
				t.Error(err)
			}
		}()
	}
	wins.Wait()
	if won != 1 {
		t.Fatalf("%d workers won the claim, want 1", won)
	}
}

// A claim whose file stops changing is taken over after the stale timeout
// of the observer's clock, not before, and by one generation only.
func TestClaimStaleByHeartbeat(t *testing.T) {
	dir := t.TempDir()
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newTestClaimer(t, dir, &clock)
	writeForeignClaim(t, dir, "cell", 0, "elsewhere", 12345)
	if _, err := c.TryClaim("cell"); !errors.Is(err, ErrClaimHeld) {
		t.Fatalf("fresh foreign claim: got %v, want ErrClaimHeld", err)
	}
	clock = clock.Add(59 * time.Second)
	if _, err := c.TryClaim("cell"); !errors.Is(err, ErrClaimHeld) {
		t.Fatalf("before the timeout: got %v, want ErrClaimHeld", err)
	}
	clock = clock.Add(2 * time.Second)
	cl, err := c.TryClaim("cell")
	if err != nil {
		t.Fatalf("past the timeout: %v", err)
	}
	if cl.Gen != 1 {
		t.Fatalf("took over generation %d, want 1", cl.Gen)
	}
	log := readClaimLogs(t, dir)
	if !strings.Contains(log, "takeover from elsewhere pid 12345 cell gen 1") {
		t.Fatalf("claim log lacks the takeover:\n%s", log)
	}
}

// A heartbeat keeps a claim alive however long its unit runs.
func TestClaimHeartbeatKeepsItAlive(t *testing.T) {
	dir := t.TempDir()
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	holder := newTestClaimer(t, dir, &clock)
	other := newTestClaimer(t, dir, &clock)
	other.alive = func(int) bool { return true }
	if _, err := holder.TryClaim("cell"); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := other.TryClaim("cell"); !errors.Is(err, ErrClaimHeld) {
			t.Fatalf("a claim with a heartbeat: got %v, want ErrClaimHeld", err)
		}
		clock = clock.Add(40 * time.Second)
		holder.beatOnce()
	}
}

// On the same host, a claim whose process is gone is stale at once (a
// killed or requeued job on the same node).
func TestClaimDeadHolderSameHost(t *testing.T) {
	dir := t.TempDir()
	c := newTestClaimer(t, dir, nil)
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	writeForeignClaim(t, dir, "cell", 0, c.host, cmd.Process.Pid)
	if _, err := c.TryClaim("cell"); err != nil {
		t.Fatalf("a dead holder's claim was not taken over: %v", err)
	}
}

// A holder paused past the timeout finds its claim lost at its next heartbeat.
func TestClaimLost(t *testing.T) {
	dir := t.TempDir()
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	paused := newTestClaimer(t, dir, &clock)
	other := newTestClaimer(t, dir, &clock)
	other.alive = func(int) bool { return true }
	cl, err := paused.TryClaim("cell")
	if err != nil {
		t.Fatal(err)
	}
	other.TryClaim("cell") // first sighting
	clock = clock.Add(2 * time.Minute)
	taken, err := other.TryClaim("cell")
	if err != nil {
		t.Fatalf("takeover: %v", err)
	}
	paused.beatOnce()
	if !paused.Lost(cl) {
		t.Fatal("the paused holder did not notice its claim was taken over")
	}
	if err := paused.Release(cl); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(taken.path); err != nil {
		t.Fatalf("releasing a lost claim removed the new holder's: %v", err)
	}
}

func readClaimLogs(t *testing.T, dir string) string {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(dir, "claims", "*.log"))
	var b strings.Builder
	for _, p := range logs {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}
