package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Claims let any number of workers share one results directory, on one
// machine or many over a shared file system: each takes a unit of work (a
// cell, a network to pre-train) only after claiming it, so no unit is
// computed twice.
//
// A claim is a file DIR/claims/KEY.GEN.claim created with O_CREATE|O_EXCL,
// which exactly one creator wins, locally and on NFS version 3 or later. Its
// holder touches it every heartbeat. A claim is stale when its holder is
// gone: on the same host, the holder's pid no longer runs; on any host, the
// file's modification time has not changed for the stale timeout, timed
// with the observer's own clock (so clocks of different hosts need not
// agree). A stale claim of generation GEN is taken over by creating
// generation GEN+1, again with O_EXCL, so two workers seeing it stale
// cannot both take it. A holder that finds a newer generation of its claim
// has lost it (it was paused past the timeout): it logs the loss and, if it
// finishes, writes the same scores as the new holder, atomically.
// Each worker appends its claims, takeovers and releases to its own log,
// DIR/claims/HOST.PID.log (one writer per file, so no append races on NFS).
//
// A unit's result is its record: claims only keep workers apart while a
// unit runs, and a released claim's file is removed.
type Claimer struct {
	dir       string
	host      string
	pid       int
	stale     time.Duration
	heartbeat time.Duration
	now       func() time.Time
	alive     func(pid int) bool

	mu        sync.Mutex
	held      map[string]*Claim
	seen      map[string]sighting // claim file → first sighting of its mtime
	log       *os.File
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// ClaimOptions tune a Claimer; zero values take the defaults.
type ClaimOptions struct {
	// Stale is how long a claim's file may go untouched before another
	// worker takes it over (default 10 minutes).
	Stale time.Duration
	// Heartbeat is how often a holder touches its claims (default Stale/10).
	Heartbeat time.Duration
}

// DefaultClaimStale is the default stale timeout: long against a heartbeat
// delayed by a busy file server, short against a requeued job's wait.
const DefaultClaimStale = 10 * time.Minute

// Claim is one held unit.
type Claim struct {
	Key  string
	Gen  int
	path string
	lost bool
}

type sighting struct {
	mtime time.Time
	at    time.Time // the observer's clock when mtime was first seen
}

// claimHolder is a claim file's content.
type claimHolder struct {
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Claimed time.Time `json:"claimed"`
}

// ErrClaimHeld is returned by TryClaim when another live worker holds the key.
var ErrClaimHeld = errors.New("claimed by another worker")

// NewClaimer starts claiming units in the results directory dir for this
// process; Close releases what it still holds and stops the heartbeat.
func NewClaimer(dir string, opts ClaimOptions) (*Claimer, error) {
	if opts.Stale <= 0 {
		opts.Stale = DefaultClaimStale
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = opts.Stale / 10
	}
	if opts.Heartbeat >= opts.Stale {
		return nil, fmt.Errorf("results: claim heartbeat %v must be shorter than the stale timeout %v", opts.Heartbeat, opts.Stale)
	}
	claims := filepath.Join(dir, "claims")
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	c := &Claimer{
		dir: claims, host: host, pid: os.Getpid(),
		stale: opts.Stale, heartbeat: opts.Heartbeat,
		now: time.Now, alive: processAlive,
		held: map[string]*Claim{}, seen: map[string]sighting{},
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go c.beat()
	return c, nil
}

// Worker names this process as its claims do: "HOST pid PID".
func (c *Claimer) Worker() string { return fmt.Sprintf("%s pid %d", c.host, c.pid) }

// TryClaim claims key for this process: ErrClaimHeld when another live
// worker holds it; a stale claim is taken over (its unit's checkpoint, if
// any, lets the new holder resume it).
func (c *Claimer) TryClaim(key string) (*Claim, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.held[key]; ok {
		return cl, nil
	}
	gen, holder, path, err := c.latest(key)
	if err != nil {
		return nil, err
	}
	action := "claim"
	if path != "" {
		if !c.isStale(path, holder) {
			return nil, ErrClaimHeld
		}
		action = "takeover from " + holder.describe()
		gen++
	}
	cl, err := c.create(key, gen)
	if errors.Is(err, fs.ErrExist) {
		return nil, ErrClaimHeld // another worker won this generation
	}
	if err != nil {
		return nil, err
	}
	c.held[key] = cl
	c.logf("%s %s gen %d", action, key, gen)
	return cl, nil
}

// Release gives up key's claim (when the unit failed or was stopped): its
// files, and any older generations, are removed.
func (c *Claimer) Release(cl *Claim) error { return c.release(cl, "release") }

// Done gives up key's claim after its result is written; the claim log
// says "done", so that the logs show which worker computed each unit.
func (c *Claimer) Done(cl *Claim) error { return c.release(cl, "done") }

func (c *Claimer) release(cl *Claim, how string) error {
	if cl == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.held, cl.Key)
	if cl.lost {
		c.logf("%s %s gen %d (lost to a newer claim)", how, cl.Key, cl.Gen)
		return nil
	}
	c.logf("%s %s gen %d", how, cl.Key, cl.Gen)
	for g := cl.Gen; g >= 0; g-- {
		if err := os.Remove(c.path(cl.Key, g)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("results: releasing claim: %w", err)
		}
	}
	return nil
}

// Lost reports whether another worker has taken cl over.
func (c *Claimer) Lost(cl *Claim) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cl.lost
}

// Close releases every claim still held and stops the heartbeat.
func (c *Claimer) Close() error {
	c.closeOnce.Do(func() { close(c.stop) })
	<-c.done
	c.mu.Lock()
	var held []*Claim
	for _, cl := range c.held {
		held = append(held, cl)
	}
	c.mu.Unlock()
	var first error
	for _, cl := range held {
		if err := c.Release(cl); err != nil && first == nil {
			first = err
		}
	}
	if c.log != nil {
		if err := c.log.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Discard removes this worker's claim log, and the claims folder when
// nothing else is in it: for a worker that computed nothing, so that an idle
// run leaves its output folder as it found it.
func (c *Claimer) Discard() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.log != nil {
		c.log.Close()
		os.Remove(c.log.Name())
		c.log = nil
	}
	os.Remove(c.dir) // fails, as it should, unless empty
}

// beat touches every held claim each heartbeat and marks those a newer
// generation has superseded as lost.
func (c *Claimer) beat() {
	defer close(c.done)
	t := time.NewTicker(c.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		c.beatOnce()
	}
}

// beatOnce is one heartbeat.
func (c *Claimer) beatOnce() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range c.held {
		if cl.lost {
			continue
		}
		if _, err := os.Stat(c.path(cl.Key, cl.Gen+1)); err == nil {
			cl.lost = true
			c.logf("lost %s gen %d to a newer claim", cl.Key, cl.Gen)
			continue
		}
		now := c.now()
		_ = os.Chtimes(cl.path, now, now)
	}
}

// latest finds key's newest claim generation: its number, holder and path
// ("" and generation 0 when unclaimed).
func (c *Claimer) latest(key string) (int, claimHolder, string, error) {
	gen, path := -1, ""
	for g := 0; ; g++ {
		p := c.path(key, g)
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			break
		} else if err != nil {
			return 0, claimHolder{}, "", fmt.Errorf("results: %w", err)
		}
		gen, path = g, p
	}
	if path == "" {
		return 0, claimHolder{}, "", nil
	}
	var h claimHolder
	if data, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(data, &h) // a claim being written reads as empty: judged by its mtime
	}
	return gen, h, path, nil
}

// isStale judges the claim file at path held by h.
func (c *Claimer) isStale(path string, h claimHolder) bool {
	if h.Host == c.host && h.PID > 0 && !c.alive(h.PID) {
		return true
	}
	fi, err := os.Stat(path)
	if err != nil {
		return true // released or taken over meanwhile: the create decides
	}
	now := c.now()
	s, ok := c.seen[path]
	if !ok || !s.mtime.Equal(fi.ModTime()) {
		c.seen[path] = sighting{mtime: fi.ModTime(), at: now}
		return false
	}
	return now.Sub(s.at) > c.stale
}

func (c *Claimer) create(key string, gen int) (*Claim, error) {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	path := c.path(key, gen)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	data, _ := json.Marshal(claimHolder{Host: c.host, PID: c.pid, Claimed: c.now().UTC()})
	_, werr := f.Write(append(data, '\n'))
	cerr := f.Close()
	if werr != nil || cerr != nil {
		os.Remove(path)
		return nil, fmt.Errorf("results: writing claim %s: %w", path, errors.Join(werr, cerr))
	}
	return &Claim{Key: key, Gen: gen, path: path}, nil
}

func (c *Claimer) path(key string, gen int) string {
	return filepath.Join(c.dir, key+"."+strconv.Itoa(gen)+".claim")
}

// logf appends one line to this worker's claim log, opened at its first
// line (a worker that claimed nothing leaves no file); c.mu is held.
func (c *Claimer) logf(format string, args ...any) {
	if c.log == nil {
		f, err := os.OpenFile(filepath.Join(c.dir, fmt.Sprintf("%s.%d.log", c.host, c.pid)), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return // the log is for people; the claims themselves are the files
		}
		c.log = f
	}
	fmt.Fprintf(c.log, "%s %s %s\n", c.now().UTC().Format(time.RFC3339Nano), c.Worker(), fmt.Sprintf(format, args...))
}

func (h claimHolder) describe() string {
	if h.Host == "" {
		return "an unreadable holder"
	}
	return fmt.Sprintf("%s pid %d", h.Host, h.PID)
}

// checkKey refuses keys that are not a single plain file name.
func checkKey(key string) error {
	if key == "" || key != filepath.Base(key) || key == "." || key == ".." {
		return fmt.Errorf("results: claim key %q is not a plain name", key)
	}
	return nil
}
