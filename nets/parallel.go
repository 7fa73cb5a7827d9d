package nets

import (
	"runtime"
	"sync"
	"sync/atomic"
)

var threads atomic.Int32

// SetThreads sets how many goroutines the kernels split work over; n ≤ 0
// means GOMAXPROCS. It returns the previous setting.
func SetThreads(n int) int {
	return int(threads.Swap(int32(n)))
}

// Threads is the number of workers the kernels use.
func Threads() int {
	if n := int(threads.Load()); n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

// parallel splits [0, n) into at most Threads() contiguous, nearly equal
// ranges and runs fn on each, worker w ∈ [0, Threads()) getting the w-th range.
// It runs fn inline when one range is enough.
func parallel(n int, fn func(w, lo, hi int)) {
	parallelN(Threads(), n, fn)
}

func parallelN(workers, n int, fn func(w, lo, hi int)) {
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		if n > 0 {
			fn(0, 0, n)
		}
		return
	}
	var wg sync.WaitGroup
	wg.Add(workers - 1)
	for w := 1; w < workers; w++ {
		lo, hi := w*n/workers, (w+1)*n/workers
		go func(w, lo, hi int) {
			defer wg.Done()
			fn(w, lo, hi)
		}(w, lo, hi)
	}
	fn(0, 0, n/workers)
	wg.Wait()
}
