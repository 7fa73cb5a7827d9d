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
		summary: "measure training and inference throughput of a network",
		usage:   "--net NAME [--batch B] [--threads T] [--iters K] [--ops] [--peer CMD [--rounds R]]",
		help: `Times training steps (forward, backward, SGD update) and evaluation-mode
forward passes on random 32×32 images, like shared/bench/torch_peer.py: one
warm-up call, then at least --iters calls and two seconds per phase. The last
two lines are "train img/s: X" and "infer img/s: Y", in the peer's format.

--peer runs another benchmark command (the PyTorch peer) alternately with
ours for --rounds rounds and reports the ratio of medians, so that both are
measured in one run on the same machine:

  mcdood bench --net small --rounds 5 \
    --peer "/usr/bin/python3 ../shared/bench/torch_peer.py small"

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
			fs.StringVar(&f.peer, "peer", "", "peer benchmark `command` printing \"train img/s: X\" and \"infer img/s: Y\"")
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
// and their ratio.
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
	var ops nets.OpProfile
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
		ours.Add(last.TrainRate, last.InferRate)
		line := fmt.Sprintf("round %d: ours train %.1f infer %.1f img/s", r, last.TrainRate, last.InferRate)
		if f.peer != "" {
			tr, inf, err := nets.RunPeer(ctx, f.peer)
			if err != nil {
				return err
			}
			theirs.Add(tr, inf)
			line += fmt.Sprintf(" | peer train %.1f infer %.1f img/s", tr, inf)
		}
		fmt.Fprintln(e.stdout, line)
	}
	last.WriteMemory(e.stdout)
	ops.WriteTable(e.stdout)
	train, infer := ours.Median()
	if f.peer != "" {
		peerTrain, peerInfer := theirs.Median()
		fmt.Fprintf(e.stdout, "ratio ours/peer (medians of %d rounds): train %.2f×, infer %.2f×\n", n, train/peerTrain, infer/peerInfer)
	}
	fmt.Fprintf(e.stdout, "train img/s: %.1f\ninfer img/s: %.1f\n", train, infer)
	return nil
}
