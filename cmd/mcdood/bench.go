package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"time"

	"github.com/mcdood/mcdood/nets"
)

func init() {
	register(&command{
		name:    "bench",
		order:   30,
		summary: "measure training and inference throughput of a network",
		usage:   "--net NAME [--batch B] [--threads T] [--iters K] [--peer CMD [--rounds R]]",
		help: `Times training steps (forward, backward, SGD update) and evaluation-mode
forward passes on random 32×32 images, like shared/bench/torch_peer.py: one
warm-up call, then at least --iters calls and two seconds per phase. The last
two lines are "train img/s: X" and "infer img/s: Y", in the peer's format.

--peer runs another benchmark command (the PyTorch peer) alternately with
ours for --rounds rounds and reports the ratio of medians, so that both are
measured in one run on the same machine:

  mcdood bench --net small --rounds 5 \
    --peer "/usr/bin/python3 ../shared/bench/torch_peer.py small"`,
		flags: func(fs *flag.FlagSet) runFunc {
			net := fs.String("net", "small", "network `name` (small, densenet-bc-100, wrn-28-10, resnet9-C, ...)")
			batch := fs.Int("batch", 0, "batch size (default 128 for small, 64 otherwise, as the peer)")
			threads := fs.Int("threads", 2, "worker threads (the peer uses 2)")
			iters := fs.Int("iters", 0, "minimum timed calls per phase (default 10 for small, 3 otherwise)")
			peer := fs.String("peer", "", "peer benchmark `command` printing \"train img/s: X\" and \"infer img/s: Y\"")
			rounds := fs.Int("rounds", 3, "alternating rounds when --peer is given")
			cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of our rounds to `file` (go tool pprof)")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				spec, err := nets.ParseSpec(*net)
				if err != nil {
					return usagef("%v", err)
				}
				small := *net == "small"
				if *batch == 0 {
					*batch = map[bool]int{true: 128, false: 64}[small]
				}
				if *iters == 0 {
					*iters = map[bool]int{true: 10, false: 3}[small]
				}
				if *threads < 1 {
					return usagef("--threads must be at least 1")
				}
				runtime.GOMAXPROCS(*threads)
				nets.SetThreads(*threads)
				cfg := benchConfig{Batch: *batch, MinIters: *iters, MinTime: 2 * time.Second}
				fmt.Fprintf(e.stdout, "net %s, batch %d, threads %d, BLAS %s, kernels %s, convolutions %s, %s\n", spec.Name, *batch, *threads, nets.BLAS(), nets.Kernels(), nets.Conv(), runtime.Version())
				n := 1
				if *peer != "" {
					n = *rounds
				}
				if *cpuProfile != "" {
					stop, err := startCPUProfile(*cpuProfile)
					if err != nil {
						return err
					}
					defer stop()
				}
				var ours, theirs [2][]float64
				var last benchResult
				for r := 1; r <= n; r++ {
					if err := ctx.Err(); err != nil {
						return err
					}
					res, err := measureThroughput(spec, cfg)
					if err != nil {
						return err
					}
					last = res
					ours[0], ours[1] = append(ours[0], res.TrainRate), append(ours[1], res.InferRate)
					line := fmt.Sprintf("round %d: ours train %.1f infer %.1f img/s", r, res.TrainRate, res.InferRate)
					if *peer != "" {
						tr, inf, err := runPeer(ctx, *peer)
						if err != nil {
							return err
						}
						theirs[0], theirs[1] = append(theirs[0], tr), append(theirs[1], inf)
						line += fmt.Sprintf(" | peer train %.1f infer %.1f img/s", tr, inf)
					}
					fmt.Fprintln(e.stdout, line)
				}
				fmt.Fprintf(e.stdout, "parameters %d; training step: %.2f MB allocated, RSS %.0f MB → %.0f MB over %d steps",
					last.Params, last.AllocPerStep/1e6, float64(last.RSSStart)/1e6, float64(last.RSSEnd)/1e6, last.TrainSteps)
				if last.RSSSteadyMax > 0 {
					fmt.Fprintf(e.stdout, " (%.0f–%.0f MB from step 50 on)", float64(last.RSSSteadyMin)/1e6, float64(last.RSSSteadyMax)/1e6)
				}
				fmt.Fprintf(e.stdout, "; live heap %.1f MB → %.1f MB", float64(last.HeapStart)/1e6, float64(last.HeapEnd)/1e6)
				fmt.Fprintln(e.stdout)
				if *peer != "" {
					fmt.Fprintf(e.stdout, "ratio ours/peer (medians of %d rounds): train %.2f×, infer %.2f×\n",
						n, median(ours[0])/median(theirs[0]), median(ours[1])/median(theirs[1]))
				}
				fmt.Fprintf(e.stdout, "train img/s: %.1f\ninfer img/s: %.1f\n", median(ours[0]), median(ours[1]))
				return nil
			}
		},
	})
}

var peerLine = regexp.MustCompile(`(?m)^(train|infer) img/s: ([0-9.]+)`)

// runPeer runs a peer benchmark through the shell and reads its two rates.
func runPeer(ctx context.Context, command string) (train, infer float64, err error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("peer %q: %v: %s", command, err, bytes.TrimSpace(errb.Bytes()))
	}
	for _, m := range peerLine.FindAllStringSubmatch(out.String(), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		if m[1] == "train" {
			train = v
		} else {
			infer = v
		}
	}
	if train == 0 || infer == 0 {
		return 0, 0, fmt.Errorf("peer %q printed no \"train img/s\" and \"infer img/s\" lines:\n%s", command, out.String())
	}
	return train, infer, nil
}

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

// startCPUProfile profiles this process into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
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
