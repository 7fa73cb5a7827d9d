package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// In plain mode a task writes one line per interval once it has run that
// long — count, elapsed time, ETA — with no carriage return, and nothing at
// its end; a short task writes nothing.
func TestPlainLines(t *testing.T) {
	var out bytes.Buffer
	r := NewPlain(&out, time.Minute)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return clock }
	short := r.Start("quick", 10, "img")
	short.Add(10)
	short.Finish()
	b := r.Start("train epoch 1/3", 48, "batch")
	for i := 0; i < 48; i++ {
		clock = clock.Add(5 * time.Second)
		b.Add(1)
		if i == 20 {
			b.Describe("train epoch 1/3 loss 2.5")
		}
	}
	b.Finish()
	got := out.String()
	want := "train epoch 1/3: 12/48 batch, 1m0s, ETA 3m0s\n" +
		"train epoch 1/3 loss 2.5: 24/48 batch, 2m0s, ETA 2m0s\n" +
		"train epoch 1/3 loss 2.5: 36/48 batch, 3m0s, ETA 1m0s\n" +
		"train epoch 1/3 loss 2.5: 48/48 batch, 4m0s\n"
	if got != want || strings.Contains(got, "\r") {
		t.Errorf("plain lines:\n%q\nwant\n%q", got, want)
	}
	var nothing *Reporter
	nothing.Start("x", 1, "").Add(1) // a nil Reporter reports nothing
	if New(&out) == nil || !New(&out).plain {
		t.Error("a writer that is not a terminal does not get plain lines")
	}
}
