package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"runtime"
	"time"

	"github.com/mcdood/mcdood/nets"
)

func init() {
	register(&command{
		name:    "bench",
		order:   30,
		summary: "measure training, inference and input-gradient throughput of a network",
		usage:   "--net NAME [--batch B] [--threads T] [--iters K] [--ops] [--peer CMD [--rounds R]]",
		help: `Times training steps (forward, backward, SGD update), evaluation-mode
forward passes and ODIN's input-gradient passes (evaluation mode, both heads
at temperature 1000, the gradient of the NLL of their mean softmax w.r.t. the
images only) on random 32×32 images, like shared/bench/torch_peer.py: one
warm-up call, then at least --iters calls and two seconds per phase. The last
three lines are "train img/s: X", "infer img/s: Y" and "input-grad img/s: Z",
in the peers' format.

--peer runs another benchmark command (a PyTorch peer) alternately with ours
for --rounds rounds and reports the ratio of medians of each phase, so that
both are measured in one run on the same machine. The project's peer,
scripts/torch_peer.py, prints all three rates; the shared one has no
input-gradient pass ("input-grad: peer has none"):

  mcdood bench --net densenet-bc-100 --rounds 5 \
    --peer "/usr/bin/python3 scripts/torch_peer.py densenet-bc-100"

It first measures the machine's FMA peak on the threads and vectors in use
(nets.FMAPeak), and rates the arithmetic counted from the layers against it.

--ops also times every op of the last round (the training step, inference
and ODIN's input-gradient pass, after the rates are measured) and prints,
per phase, each kind of op's calls and milliseconds per step, its share of
the step and its GFLOP/s or GB/s.`,
		flags: func(fs *flag.FlagSet) runFunc {
			f := &benchFlags{}
			fs.StringVar(&f.net, "net", "small", "network `name` (small, densenet-bc-100, wrn-28-10, resnet9-C, ...)")
			fs.IntVar(&f.batch, "batch", 0, "batch size (default 128 for small, 64 otherwise, as the peer)")
			fs.IntVar(&f.threads, "threads", 2, "worker threads (the peer uses 2)")
			fs.IntVar(&f.iters, "iters", 0, "minimum timed calls per phase (default 10 for small, 3 otherwise)")
			fs.StringVar(&f.peer, "peer", "", "peer benchmark `command` printing \"train img/s: X\", \"infer img/s: Y\" and optionally \"input-grad img/s: Z\"")
			fs.IntVar(&f.rounds, "rounds", 3, "alternating rounds when --peer is given")
			fs.BoolVar(&f.ops, "ops", false, "profile each op of the last round (nets.OpProfile)")
			fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of our rounds to `file` (go tool pprof)")
			return noArgs(func(ctx context.Context, e *env) error { return runBench(ctx, e, *f) })
		},
	})
}

// benchFlags are the flags of "mcdood bench".
type benchFlags struct {
	net, peer, cpuProfile         string
	batch, threads, iters, rounds int
	ops                           bool
}

// runBench measures our throughput (nets.MeasureThroughput), alternating
// with the peer's (nets.RunPeer) when there is one, and prints the rates
// and their ratios; the input-gradient ratio only when the peer printed
// that rate in every round.
func runBench(ctx context.Context, e *env, f benchFlags) error {
	spec, err := nets.ParseSpec(f.net)
	if err != nil {
		return usagef("%v", err)
	}
	small := f.net == "small"
	f.batch = cmp.Or(f.batch, map[bool]int{true: 128, false: 64}[small])
	f.iters = cmp.Or(f.iters, map[bool]int{true: 10, false: 3}[small])
	if f.threads < 1 {
		return usagef("--threads must be at least 1")
	}
	nets.UseThreads(f.threads)
	cfg := nets.ThroughputConfig{Batch: f.batch, MinIters: f.iters, MinTime: 2 * time.Second}
	fmt.Fprintf(e.stdout, "net %s, batch %d, threads %d, %s, %s\n", spec.Name, f.batch, f.threads, nets.CurrentEngine().Libraries(), runtime.Version())
	peak := nets.FMAPeak()
	if peak > 0 {
		fmt.Fprintf(e.stdout, "FMA peak: %.0f GFLOP/s on %d threads (%s vectors, 12 independent chains a thread)\n", peak, f.threads, nets.Kernels())
	}
	n := 1
	if f.peer != "" {
		n = f.rounds
	}
	if f.cpuProfile != "" {
		stop, err := nets.ProfileCPU(f.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	var ours, theirs nets.Rates
	var last nets.Throughput
	ops := nets.OpProfile{Peak: peak}
	for r := 1; r <= n; r++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if f.ops && r == n {
			cfg.Ops = &ops
		}
		if last, err = nets.MeasureThroughput(spec, cfg); err != nil {
			return err
		}
		ours.Add(last.TrainRate, last.InferRate, last.InputGradRate)
		line := fmt.Sprintf("round %d: ours train %.1f infer %.1f input-grad %.1f img/s", r, last.TrainRate, last.InferRate, last.InputGradRate)
		if f.peer != "" {
			tr, inf, ig, err := nets.RunPeer(ctx, f.peer)
			if err != nil {
				return err
			}
			if r > 1 && (ig > 0) != (theirs.InputGrad[0] > 0) {
				return fmt.Errorf("peer %q printed \"input-grad img/s\" in some rounds only", f.peer)
			}
			theirs.Add(tr, inf, ig)
			line += fmt.Sprintf(" | peer train %.1f infer %.1f", tr, inf)
			if ig > 0 {
				line += fmt.Sprintf(" input-grad %.1f", ig)
			}
			line += " img/s"
		}
		fmt.Fprintln(e.stdout, line)
	}
	last.WriteMemory(e.stdout)
	ops.WriteTable(e.stdout)
	train, infer, inputGrad := ours.Median()
	if peak > 0 {
		fmt.Fprintf(e.stdout, "arithmetic (MFLOP per image, counted from the layers) at the median rates:")
		for i, ph := range []struct {
			name        string
			flops, rate float64
		}{{"train", last.TrainFLOPs, train}, {"infer", last.InferFLOPs, infer}, {"input-grad", last.InputGradFLOPs, inputGrad}} {
			fmt.Fprintf(e.stdout, "%s %s %.0f, %.0f GFLOP/s = %.0f%% of the peak", map[bool]string{true: "", false: ";"}[i == 0], ph.name, ph.flops/1e6, ph.flops*ph.rate/1e9, 100*ph.flops*ph.rate/1e9/peak)
		}
		fmt.Fprintln(e.stdout)
	}
	if f.peer != "" {
		peerTrain, peerInfer, peerInputGrad := theirs.Median()
		lo, hi := ours.RoundRatios(theirs)
		igRatio := "input-grad: peer has none"
		if peerInputGrad > 0 {
			igRatio = fmt.Sprintf("input-grad %.2f× (%.2f–%.2f)", inputGrad/peerInputGrad, lo[2], hi[2])
		}
		fmt.Fprintf(e.stdout, "ratio ours/peer (medians of %d rounds; the rounds' own ratios from–to): train %.2f× (%.2f–%.2f), infer %.2f× (%.2f–%.2f), %s\n",
			n, train/peerTrain, lo[0], hi[0], infer/peerInfer, lo[1], hi[1], igRatio)
	}
	fmt.Fprintf(e.stdout, "train img/s: %.1f\ninfer img/s: %.1f\ninput-grad img/s: %.1f\n", train, infer, inputGrad)
	return nil
}
