// Package progress draws progress bars with an ETA on a writer (stderr in the
// CLI). It wraps github.com/schollz/progressbar so that library packages take
// a *progress.Reporter and never print by themselves; a nil Reporter draws
// nothing, which is what tests use.
package progress

import (
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Reporter makes bars on one writer.
type Reporter struct {
	w io.Writer
}

// New returns a Reporter drawing on w; a nil w gives a nil Reporter.
func New(w io.Writer) *Reporter {
	if w == nil {
		return nil
	}
	return &Reporter{w: w}
}

// Bar is one task with a known number of steps. The zero of *Bar (nil) is a
// valid bar that draws nothing.
type Bar struct {
	b *progressbar.ProgressBar
}

// Start begins a bar of total steps described by desc. unit names a step in
// the rate shown ("img", "batch"); empty means plain counts.
func (r *Reporter) Start(desc string, total int64, unit string) *Bar {
	if r == nil {
		return nil
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

// Add advances the bar by n steps.
func (b *Bar) Add(n int) {
	if b != nil {
		b.b.Add(n)
	}
}

// Describe replaces the bar's description (for a running loss, say).
func (b *Bar) Describe(desc string) {
	if b != nil {
		b.b.Describe(desc)
	}
}

// Write lets a byte-counting bar sit in an io.MultiWriter or TeeReader.
func (b *Bar) Write(p []byte) (int, error) {
	if b != nil {
		b.b.Add(len(p))
	}
	return len(p), nil
}

// Finish completes the bar and ends its line.
func (b *Bar) Finish() {
	if b != nil {
		b.b.Finish()
	}
}
