package nets

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ThroughputConfig sets up a throughput measurement (mcdood bench) the way
// the PyTorch peer (shared/bench/torch_peer.py) does: random inputs, SGD
// with momentum 0.9 and weight decay 1e-4, one warm-up call, then at least
// MinIters calls and at least MinTime per phase.
type ThroughputConfig struct {
	Batch    int
	MinIters int
	MinTime  time.Duration
	Classes  int // 0: 10
	// Ops, when set, receives a per-op profile (Program.ProfileOps) of
	// each phase, run after its rate is measured so that the rate does
	// not include the timers.
	Ops *OpProfile
}

// Throughput is one measurement.
type Throughput struct {
	// Images per second of the training step, the evaluation-mode
	// forward pass and ODIN's input-gradient pass.
	TrainRate, InferRate, InputGradRate float64
	// The arithmetic per image of each phase, counted from the programs
	// (Program.FLOPs), to rate against the machine's peak.
	TrainFLOPs, InferFLOPs, InputGradFLOPs float64
	// Training-step memory: heap bytes allocated per step, and resident set
	// size after the warm-up (its garbage returned), at the end of the
	// training phase, and the lowest and highest RSS sampled every 50 steps
	// from step 50 on (after the heap has reached its working size).
	// HeapStart and HeapEnd are the live Go heap (after a collection)
	// before and after the training phase: equal when nothing leaks.
	AllocPerStep               float64
	RSSStart, RSSEnd           int64
	RSSSteadyMin, RSSSteadyMax int64
	HeapStart, HeapEnd         int64
	TrainSteps, Params         int
}

// MeasureThroughput times training steps (forward, backward, SGD update),
// evaluation-mode forward passes and ODIN's input-gradient passes
// (measureInputGrad) of a new network of spec on one random batch, and
// watches the training step's memory.
func MeasureThroughput(spec Spec, cfg ThroughputConfig) (Throughput, error) {
	if cfg.Classes == 0 {
		cfg.Classes = 10
	}
	// Start from a collected heap returned to the system: the garbage of an
	// earlier measurement in this process (mcdood bench's rounds) would
	// otherwise be collected and scavenged during this one's timed steps,
	// which made a repeated measurement of DenseNet-BC-100 train 11% slower
	// than the same binary in a fresh process (0.89×, medians of 5 rounds).
	debug.FreeOSMemory()
	m, err := New(spec, cfg.Classes, 1)
	if err != nil {
		return Throughput{}, err
	}
	res := Throughput{Params: m.NumParams()}
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
	res.TrainFLOPs = tp.FLOPs() / float64(cfg.Batch)
	opt := NewSGD(0.9, 1e-4, false)
	if err := measureTraining(tp, opt, cfg, &res); err != nil {
		return res, err
	}
	if cfg.Ops != nil {
		if err := profileTraining(tp, opt, cfg, res.TrainRate); err != nil {
			return res, err
		}
	}
	ep, err := m.EvalProgram(cfg.Batch)
	if err != nil {
		return res, err
	}
	defer ep.Close()
	copy(ep.Input(), tp.Input())
	res.InferFLOPs = ep.FLOPs() / float64(cfg.Batch)
	if res.InferRate, _, err = timeCalls(cfg, ep.Run); err != nil {
		return res, err
	}
	if cfg.Ops != nil {
		ph := cfg.Ops.Phase("inference", cfg.Batch)
		ph.Rate = res.InferRate
		if err := profileSteps(ep, ph, cfg, ep.Run); err != nil {
			return res, err
		}
	}
	res.InputGradRate, res.InputGradFLOPs, err = measureInputGrad(m, tp, cfg)
	return res, err
}

// profileTraining profiles tp's steps, the SGD update as a row of its own.
func profileTraining(tp *Program, opt *SGD, cfg ThroughputConfig, rate float64) error {
	ph := cfg.Ops.Phase("training step", cfg.Batch)
	ph.Rate = rate
	return profileSteps(tp, ph, cfg, func() error {
		if err := tp.Run(); err != nil {
			return err
		}
		return ph.Time("sgd (outside the graph)", func() error { return opt.Step(0.01, tp.Params(), tp.Grads()) })
	})
}

// measureInputGrad times, and profiles when cfg.Ops is set, the
// input-gradient pass ODIN takes (Liang et al., ICLR 2018) on tp's batch
// and labels: evaluation mode, both heads at temperature 1000, the gradient
// of the NLL of the heads' mean softmax w.r.t. the images only.
func measureInputGrad(m *Model, tp *Program, cfg ThroughputConfig) (rate, flops float64, err error) {
	ip, err := m.InputGradProgram(cfg.Batch, 1000, HeadsMean) // ODIN: T = 1000
	if err != nil {
		return 0, 0, err
	}
	defer ip.Close()
	copy(ip.Input(), tp.Input())
	copy(ip.Labels(), tp.Labels())
	flops = ip.FLOPs() / float64(cfg.Batch)
	if rate, _, err = timeCalls(cfg, ip.Run); err != nil || cfg.Ops == nil {
		return rate, flops, err
	}
	ph := cfg.Ops.Phase("input gradient", cfg.Batch)
	ph.Rate = rate
	return rate, flops, profileSteps(ip, ph, cfg, ip.Run)
}

// profileSteps times p's ops (Program.ProfileOps) over at least
// cfg.MinIters calls of step and half of cfg.MinTime, after one warm-up
// call.
func profileSteps(p *Program, ph *OpPhase, cfg ThroughputConfig, step func() error) error {
	if err := p.ProfileOps(ph); err != nil {
		return err
	}
	if err := step(); err != nil {
		return err
	}
	ph.Reset()
	t0 := time.Now()
	for ph.Steps < cfg.MinIters || time.Since(t0) < cfg.MinTime/2 {
		if err := ph.Step(step); err != nil {
			return err
		}
	}
	return nil
}

// measureTraining times tp's steps and fills res's training rate and memory.
func measureTraining(tp *Program, opt *SGD, cfg ThroughputConfig, res *Throughput) error {
	step := func() error {
		if err := tp.Run(); err != nil {
			return err
		}
		return opt.Step(0.01, tp.Params(), tp.Grads())
	}
	// Warm up (first runs allocate every buffer), then watch memory.
	if err := step(); err != nil {
		return err
	}
	var ms runtime.MemStats
	// Collected and returned: the construction's garbage is not memory the
	// training step needs (uncounted, a multi-round run read 1.1-1.6 GB here
	// for DenseNet-BC-100 against 0.99 GB in a single round).
	debug.FreeOSMemory()
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
	var err error
	if res.TrainRate, res.TrainSteps, err = timeCalls(cfg, sampled); err != nil {
		return err
	}
	runtime.ReadMemStats(&ms)
	res.AllocPerStep = float64(ms.TotalAlloc-before) / float64(res.TrainSteps+1)
	res.RSSEnd = rss()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	res.HeapEnd = int64(ms.HeapAlloc)
	return nil
}

// timeCalls calls fn once to warm up, then at least cfg.MinIters times and
// for at least cfg.MinTime, and returns the images per second.
func timeCalls(cfg ThroughputConfig, fn func() error) (rate float64, n int, err error) {
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

// WriteMemory writes m's parameter count and training-step memory on one
// line (mcdood bench).
func (m Throughput) WriteMemory(w io.Writer) {
	fmt.Fprintf(w, "parameters %d; training step: %.2f MB allocated, RSS %.0f MB → %.0f MB over %d steps",
		m.Params, m.AllocPerStep/1e6, float64(m.RSSStart)/1e6, float64(m.RSSEnd)/1e6, m.TrainSteps)
	if m.RSSSteadyMax > 0 {
		fmt.Fprintf(w, " (%.0f–%.0f MB from step 50 on)", float64(m.RSSSteadyMin)/1e6, float64(m.RSSSteadyMax)/1e6)
	}
	fmt.Fprintf(w, "; live heap %.1f MB → %.1f MB\n", float64(m.HeapStart)/1e6, float64(m.HeapEnd)/1e6)
}

// Rates are the training, inference and input-gradient rates (images per
// second) of repeated measurements: mcdood bench's rounds, ours or the
// peer's.
type Rates struct{ Train, Infer, InputGrad []float64 }

// Add appends one round's rates.
func (r *Rates) Add(train, infer, inputGrad float64) {
	r.Train, r.Infer, r.InputGrad = append(r.Train, train), append(r.Infer, infer), append(r.InputGrad, inputGrad)
}

// Median is the median of each phase's rates; 0 without rounds.
func (r Rates) Median() (train, infer, inputGrad float64) {
	return median(r.Train), median(r.Infer), median(r.InputGrad)
}

// RoundRatios are the lowest and highest per-round ratios r/peer of each
// phase (training, inference, input gradient), rounds paired in order: the
// spread behind the ratio of medians. A phase the peer has not is 0, 0.
func (r Rates) RoundRatios(peer Rates) (lo, hi [3]float64) {
	for k, pair := range [3][2][]float64{{r.Train, peer.Train}, {r.Infer, peer.Infer}, {r.InputGrad, peer.InputGrad}} {
		for i := range min(len(pair[0]), len(pair[1])) {
			if pair[1][i] <= 0 {
				continue
			}
			q := pair[0][i] / pair[1][i]
			if lo[k] == 0 || q < lo[k] {
				lo[k] = q
			}
			hi[k] = max(hi[k], q)
		}
	}
	return lo, hi
}

// median is the middle value of v, or the mean of its two middle values.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ProfileCPU writes a CPU profile of this process to path (go tool pprof)
// until stop is called.
func ProfileCPU(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
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

// randomImages is the measurement's one random batch as a training set
// (for airbench's whitening filters).
type randomImages []float32

func (r randomImages) Len() int      { return len(r) / ImageSize }
func (r randomImages) Classes() int  { return 10 }
func (r randomImages) Labels() []int { return make([]int, r.Len()) }
func (r randomImages) Name() string  { return "random" }
func (r randomImages) Fill(dst []float32, _ []int, idx []int, _ *rand.Rand, _ int) {
	for j, i := range idx {
		copy(dst[j*ImageSize:(j+1)*ImageSize], r[i*ImageSize:(i+1)*ImageSize])
	}
}
