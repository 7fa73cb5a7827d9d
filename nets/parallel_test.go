package nets

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestParallel checks that parallelN hands out every index exactly once,
// in the documented ranges, back to back, with many workers, in nested
// calls and from concurrent callers.
func TestParallel(t *testing.T) {
	check := func(t *testing.T, workers, n int) {
		t.Helper()
		hits := make([]atomic.Int32, n)
		var calls atomic.Int32
		parallelN(workers, n, func(w, lo, hi int) {
			calls.Add(1)
			k := min(workers, n)
			if lo != w*n/k || hi != (w+1)*n/k {
				t.Errorf("workers %d, n %d: worker %d got [%d, %d), want [%d, %d)", workers, n, w, lo, hi, w*n/k, (w+1)*n/k)
			}
			for i := lo; i < hi; i++ {
				hits[i].Add(1)
			}
		})
		for i := range hits {
			if h := hits[i].Load(); h != 1 {
				t.Errorf("workers %d, n %d: index %d run %d times", workers, n, i, h)
				return
			}
		}
		if want := int32(min(workers, n)); n > 0 && calls.Load() != want {
			t.Errorf("workers %d, n %d: %d calls, want %d", workers, n, calls.Load(), want)
		}
	}
	t.Run("back to back", func(t *testing.T) {
		for i := 0; i < 2000; i++ {
			check(t, 2, 1+i%37)
		}
	})
	t.Run("many workers", func(t *testing.T) {
		check(t, 64, 1000)
	})
	t.Run("nested", func(t *testing.T) {
		var inner atomic.Int64
		parallelN(2, 10, func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				parallelN(2, 100, func(_, lo, hi int) { inner.Add(int64(hi - lo)) })
			}
		})
		if inner.Load() != 1000 {
			t.Fatalf("nested calls covered %d indices, want 1000", inner.Load())
		}
	})
	t.Run("concurrent callers", func(t *testing.T) {
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 300; i++ {
					check(t, 2, 50+i%13)
				}
			}()
		}
		wg.Wait()
	})
}
