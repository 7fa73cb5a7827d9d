package nets

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"
)

// GCPercent is the garbage collector's target for programs that train
// (debug.SetGCPercent, unless GOGC is set). The heap is almost all large
// pointer-free tensor buffers, which a collection does not scan, so
// collecting when garbage reaches 10% of it (instead of Go's 100%) costs
// little and keeps resident memory near the live heap: without it, a
// training run's RSS climbs by the size of all activations before the first
// collection.
const GCPercent = 10

// Engine is what runs the arithmetic, as banners print it and records
// store it: numbers from two engines need not agree to the last bit.
type Engine struct {
	BLAS    string // BLAS()
	Kernels string // Kernels()
	Conv    string // Conv()
	Threads int    // Threads()
}

// CurrentEngine is the engine in use now.
func CurrentEngine() Engine {
	return Engine{BLAS: BLAS(), Kernels: Kernels(), Conv: Conv(), Threads: Threads()}
}

// Libraries is "BLAS B, kernels K, convolutions C".
func (e Engine) Libraries() string {
	return fmt.Sprintf("BLAS %s, kernels %s, convolutions %s", e.BLAS, e.Kernels, e.Conv)
}

// String is "BLAS B, kernels K, convolutions C, N threads".
func (e Engine) String() string { return fmt.Sprintf("%s, %d threads", e.Libraries(), e.Threads) }

// UseThreads runs the program on n threads: Go's scheduler (GOMAXPROCS)
// and the kernels' workers (SetThreads). n ≤ 0 changes neither.
func UseThreads(n int) {
	if n > 0 {
		runtime.GOMAXPROCS(n)
		SetThreads(n)
	}
}

// Machine describes this computer for records: host, CPU model, cores.
func Machine() string {
	host, _ := os.Hostname()
	cpu := runtime.GOARCH
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s, %s, %d cores", host, cpu, runtime.NumCPU())
}

// FMAPeak measures the machine's peak single-precision rate in GFLOP/s on
// Threads() threads at the kernel level in use: each thread runs 12
// independent multiply-add chains on the level's widest vectors (fused
// multiply-adds on AVX2 and AVX-512), three runs of about 0.07 s on
// AVX-512, the best counting. It is what `mcdood bench` rates the
// arithmetic against; 0 in the pure-Go build, which has no such loop.
func FMAPeak() float64 {
	const iters = 1 << 25
	if fmaPeakFLOPs(1) == 0 {
		return 0
	}
	best := 0.0
	for range 3 {
		var wg sync.WaitGroup
		flops := make([]float64, Threads())
		t0 := time.Now()
		for i := range flops {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				flops[i] = fmaPeakFLOPs(iters)
			}()
		}
		wg.Wait()
		sum := 0.0
		for _, f := range flops {
			sum += f
		}
		best = max(best, sum/time.Since(t0).Seconds()/1e9)
	}
	return best
}
