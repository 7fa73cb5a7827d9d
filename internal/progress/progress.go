// Package progress reports the progress of long tasks on a writer (stderr in
// the CLI), so that library packages take a *progress.Reporter and never
// print by themselves; a nil Reporter reports nothing, which is what tests
// use.
//
// On a terminal it draws bars with an ETA (github.com/schollz/progressbar,
// which redraws its line with carriage returns). Anywhere else — a log file,
// a pipe, a SLURM or Kubernetes log — it writes plain lines instead: a task
// that runs longer than a line's interval writes one line every interval,
// with its count, elapsed time and ETA, and short tasks write nothing, so
// that a log holds readable lines and not thousands of redrawn frames.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Reporter makes bars on one writer.
type Reporter struct {
	w        io.Writer
	plain    bool
	interval time.Duration
	now      func() time.Time
	mu       sync.Mutex // plain lines of concurrent tasks do not interleave
}

// PlainInterval is how often a plain-line task reports itself.
const PlainInterval = time.Minute

// New returns a Reporter on w: bars when w is a terminal, plain lines every
// PlainInterval otherwise. A nil w gives a nil Reporter.
func New(w io.Writer) *Reporter {
	if w == nil {
		return nil
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return &Reporter{w: w}
	}
	return NewPlain(w, PlainInterval)
}

// NewPlain returns a Reporter that writes plain lines on w, one per task and
// interval once the task has run that long.
func NewPlain(w io.Writer, interval time.Duration) *Reporter {
	return &Reporter{w: w, plain: true, interval: interval, now: time.Now}
}

// Bar is one task with a known number of steps. The zero of *Bar (nil) is a
// valid bar that reports nothing.
type Bar struct {
	b *progressbar.ProgressBar
	// plain mode
	r            *Reporter
	desc, unit   string
	total, done  int64
	bytes        bool
	start, shown time.Time
}

// Start begins a bar of total steps described by desc. unit names a step in
// the rate shown ("img", "batch"); empty means plain counts.
func (r *Reporter) Start(desc string, total int64, unit string) *Bar {
	if r == nil {
		return nil
	}
	if r.plain {
		return r.plainBar(desc, total, unit, false)
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(r.w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(24),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(200 * time.Millisecond),
		progressbar.OptionOnCompletion(func() { io.WriteString(r.w, "\n") }),
	}
	if unit != "" {
		opts = append(opts, progressbar.OptionShowIts(), progressbar.OptionSetItsString(unit))
	}
	return &Bar{b: progressbar.NewOptions64(total, opts...)}
}

// StartBytes begins a bar that counts bytes (downloads, copies); total < 0
// means unknown.
func (r *Reporter) StartBytes(desc string, total int64) *Bar {
	if r == nil {
		return nil
	}
	if r.plain {
		return r.plainBar(desc, total, "", true)
	}
	return &Bar{b: progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(r.w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(24),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { io.WriteString(r.w, "\n") }),
	)}
}

func (r *Reporter) plainBar(desc string, total int64, unit string, bytes bool) *Bar {
	t := r.now()
	return &Bar{r: r, desc: desc, unit: unit, total: total, bytes: bytes, start: t, shown: t}
}

// Add advances the bar by n steps.
func (b *Bar) Add(n int) {
	switch {
	case b == nil:
	case b.b != nil:
		b.b.Add(n)
	default:
		b.done += int64(n)
		if t := b.r.now(); t.Sub(b.shown) >= b.r.interval {
			b.shown = t
			b.line(t)
		}
	}
}

// line writes the plain line of a running task.
func (b *Bar) line(t time.Time) {
	elapsed := t.Sub(b.start).Round(time.Second)
	count := fmt.Sprintf("%d/%d", b.done, b.total)
	if b.bytes {
		count = fmt.Sprintf("%.1f/%.1f MB", float64(b.done)/1e6, float64(b.total)/1e6)
	} else if b.unit != "" {
		count += " " + b.unit
	}
	eta := ""
	if b.done > 0 && b.total > b.done {
		eta = fmt.Sprintf(", ETA %v", time.Duration(float64(elapsed)*float64(b.total-b.done)/float64(b.done)).Round(time.Second))
	}
	b.r.mu.Lock()
	defer b.r.mu.Unlock()
	fmt.Fprintf(b.r.w, "%s: %s, %v%s\n", b.desc, count, elapsed, eta)
}

// Describe replaces the bar's description (for a running loss, say).
func (b *Bar) Describe(desc string) {
	switch {
	case b == nil:
	case b.b != nil:
		b.b.Describe(desc)
	default:
		b.desc = desc
	}
}

// Write lets a byte-counting bar sit in an io.MultiWriter or TeeReader.
func (b *Bar) Write(p []byte) (int, error) {
	b.Add(len(p))
	return len(p), nil
}

// Finish completes the bar and, on a terminal, ends its line; a plain task
// writes nothing more (what finished is the caller's to log).
func (b *Bar) Finish() {
	if b != nil && b.b != nil {
		b.b.Finish()
	}
}
