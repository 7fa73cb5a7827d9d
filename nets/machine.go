package nets

import (
	"fmt"
	"os"
	"runtime"
	"strings"
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
