package oodtest

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/ood"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	failed []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(f string, a ...any) {
	r.mu.Lock()
	r.failed = append(r.failed, fmt.Sprintf(f, a...))
	r.mu.Unlock()
}
func (r *recorder) Fatalf(f string, a ...any) { r.Errorf(f, a...); runtime.Goexit() }

func conformanceFailures(t *testing.T, name string) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Conformance(r, name, nil, 0.6)
	}()
	<-done
	return r.failed
}

// brightness scores by mean pixel value: a fixed rule, whatever the data.
type brightness struct{ sign float64 }

func (b brightness) Score(_ context.Context, _ *ood.Env, d *loaders.Dataset) ([]float64, error) {
	s := make([]float64, d.Len())
	for i := range s {
		var sum float64
		for _, v := range d.Image(i)[:loaders.PlaneBytes] {
			sum += float64(v)
		}
		s[i] = b.sign * sum
	}
	return s, nil
}

type noisy struct{ calls *int }

func (n noisy) Score(_ context.Context, _ *ood.Env, d *loaders.Dataset) ([]float64, error) {
	*n.calls++
	s := make([]float64, d.Len())
	for i := range s {
		s[i] = float64(*n.calls * i)
	}
	return s, nil
}

type unit struct{}

func init() {
	calls := 0
	ood.Register("test-nondeterministic", "test only", unit{}, func(unit) (ood.Detector, error) { return noisy{&calls}, nil })
	ood.Register("test-wrong-count", "test only", unit{}, func(unit) (ood.Detector, error) { return short{}, nil })
}

type short struct{}

func (short) Score(_ context.Context, _ *ood.Env, d *loaders.Dataset) ([]float64, error) {
	return make([]float64, d.Len()-1), nil
}

// The conformance check must catch each kind of broken detector.
func TestConformanceCatchesBrokenDetectors(t *testing.T) {
	for _, name := range []string{"test-nondeterministic", "test-wrong-count"} {
		if f := conformanceFailures(t, name); len(f) == 0 {
			t.Errorf("%s passed the conformance check", name)
		}
	}
}

func TestToyIsSeparable(t *testing.T) {
	toy := NewToy(t)
	// Points in the middle have a mean red plane near 128, the blobs mostly not;
	// the toy problem itself must make sense: ID and OOD sets differ.
	id, out := toy.Run(t, brightness{1})
	if a := AUROC(t, id, out); a == 0.5 {
		t.Fatalf("toy ID and OOD sets look identical (AUROC %v)", a)
	}
}
