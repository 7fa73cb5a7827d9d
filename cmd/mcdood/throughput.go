package main

import (
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/mcdood/mcdood/nets"
)

// benchConfig sets up a throughput measurement (mcdood bench) in the way the
// PyTorch peer (shared/bench/torch_peer.py) does: random inputs, SGD with momentum 0.9 and
// weight decay 1e-4, one warm-up call, then at least MinIters calls and at
// least MinTime per phase.
type benchConfig struct {
	Batch    int
	MinIters int
	MinTime  time.Duration
	Classes  int
}

// benchResult is one measurement.
type benchResult struct {
	TrainRate, InferRate float64 // images per second
	// Training-step memory: heap bytes allocated per step, and resident set
	// size after the warm-up, at the end of the training phase, and the
	// lowest and highest RSS sampled every 50 steps from step 50 on (after
	// the heap has reached its working size). HeapStart and HeapEnd are the
	// live Go heap (after a collection) before and after the training
	// phase: equal when nothing leaks.
	AllocPerStep               float64
	RSSStart, RSSEnd           int64
	RSSSteadyMin, RSSSteadyMax int64
	HeapStart, HeapEnd         int64
	TrainSteps, Params         int
}

// measureThroughput measures training and inference throughput of spec.
func measureThroughput(spec nets.Spec, cfg benchConfig) (benchResult, error) {
	if cfg.Classes == 0 {
		cfg.Classes = 10
	}
	m, err := nets.New(spec, cfg.Classes, 1)
	if err != nil {
		return benchResult{}, err
	}
	res := benchResult{Params: m.NumParams()}
	tp, err := m.TrainProgram(cfg.Batch, 0)
	if err != nil {
		return res, err
	}
	defer tp.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range tp.Input() {
		tp.Input()[i] = float32(rng.NormFloat64())
	}
	for i := range tp.Labels() {
		tp.Labels()[i] = float32(rng.IntN(cfg.Classes))
	}
	if err := m.InitFromData(randomImages(tp.Input())); err != nil {
		return res, err
	}
	opt := nets.NewSGD(0.9, 1e-4, false)
	step := func() error {
		if err := tp.Run(); err != nil {
			return err
		}
		return opt.Step(0.01, tp.Params(), tp.Grads())
	}
	measure := func(fn func() error) (rate float64, n int, err error) {
		if err := fn(); err != nil {
			return 0, 0, err
		}
		t0 := time.Now()
		for n < cfg.MinIters || time.Since(t0) < cfg.MinTime {
			if err := fn(); err != nil {
				return 0, 0, err
			}
			n++
		}
		return float64(cfg.Batch*n) / time.Since(t0).Seconds(), n, nil
	}
	// Warm up (first runs allocate every buffer), then watch memory.
	if err := step(); err != nil {
		return res, err
	}
	var ms runtime.MemStats
	runtime.GC()
	res.RSSStart = rss()
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	res.HeapStart = int64(ms.HeapAlloc)
	steps := 0
	sampled := func() error {
		if err := step(); err != nil {
			return err
		}
		if steps++; steps%50 == 0 {
			r := rss()
			if res.RSSSteadyMin == 0 || r < res.RSSSteadyMin {
				res.RSSSteadyMin = r
			}
			res.RSSSteadyMax = max(res.RSSSteadyMax, r)
		}
		return nil
	}
	if res.TrainRate, res.TrainSteps, err = measure(sampled); err != nil {
		return res, err
	}
	runtime.ReadMemStats(&ms)
	res.AllocPerStep = float64(ms.TotalAlloc-before) / float64(res.TrainSteps+1)
	res.RSSEnd = rss()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	res.HeapEnd = int64(ms.HeapAlloc)
	ep, err := m.EvalProgram(cfg.Batch)
	if err != nil {
		return res, err
	}
	defer ep.Close()
	copy(ep.Input(), tp.Input())
	res.InferRate, _, err = measure(ep.Run)
	return res, err
}

// rss reads this process's resident set size in bytes (Linux), or -1.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return -1
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return -1
	}
	return pages * int64(os.Getpagesize())
}

// randomImages is the benchmark's one random batch as a training set (for
// airbench's whitening filters).
type randomImages []float32

func (r randomImages) Len() int      { return len(r) / nets.ImageSize }
func (r randomImages) Classes() int  { return 10 }
func (r randomImages) Labels() []int { return make([]int, r.Len()) }
func (r randomImages) Name() string  { return "random" }
func (r randomImages) Fill(dst []float32, _ []int, idx []int, _ *rand.Rand, _ int) {
	for j, i := range idx {
		copy(dst[j*nets.ImageSize:(j+1)*nets.ImageSize], r[i*nets.ImageSize:(i+1)*nets.ImageSize])
	}
}
