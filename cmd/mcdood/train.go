package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/mcdood/mcdood/internal/progress"
	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"
)

func init() {
	register(&command{
		name:    "train",
		order:   40,
		summary: "pre-train a two-head network on an in-distribution set and save a checkpoint",
		usage:   "--id cifar10 --net NAME --epochs N [flags]",
		help: `Trains the feature extractor and both classifier heads with cross-entropy
(the pre-training of Yu & Aizawa, ICCV 2019), evaluates test accuracy after
every epoch, and writes a checkpoint after every epoch. Rerunning the same
command resumes from the checkpoint; a checkpoint of a different recipe is
refused.`,
		flags: func(fs *flag.FlagSet) runFunc {
			id := fs.String("id", "cifar10", "in-distribution `set` (cifar10, cifar100)")
			net := fs.String("net", "resnet9-16", "network `name`")
			epochs := fs.Int("epochs", 10, "training epochs")
			batch := fs.Int("batch", 128, "batch size")
			lr := fs.Float64("lr", 0.1, "peak learning rate")
			sched := fs.String("schedule", "onecycle", "learning-rate `schedule`: onecycle, cosine, step, constant")
			milestones := fs.String("milestones", "0.5,0.75", "step schedule: epochs (or fractions of --epochs when < 1) at which the rate is multiplied by --gamma")
			gamma := fs.Float64("gamma", 0.1, "step schedule factor")
			momentum := fs.Float64("momentum", 0.9, "SGD momentum")
			wd := fs.Float64("wd", 5e-4, "weight decay")
			nesterov := fs.Bool("nesterov", true, "Nesterov momentum")
			noAug := fs.Bool("no-augment", false, "disable the 4-pixel random crop and horizontal flip")
			seed := fs.Uint64("seed", 1, "random seed (weights, order, augmentation)")
			data := fs.String("data", "", "data root (default $"+loaders.DataEnv+" or ./data)")
			out := fs.String("out", "", "checkpoint `path` (default out/train/NET-ID-seedS.ckpt)")
			threads := fs.Int("threads", 0, "worker threads (default all cores)")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				spec, err := nets.ParseSpec(*net)
				if err != nil {
					return usagef("%v", err)
				}
				schedule, err := parseSchedule(*sched, *lr, float64(*epochs), *milestones, *gamma)
				if err != nil {
					return usagef("%v", err)
				}
				if *threads > 0 {
					runtime.GOMAXPROCS(*threads)
					nets.SetThreads(*threads)
				}
				root := loaders.ResolveRoot(*data, e.getenv)
				trainSet, testSet, err := loaders.OpenID(*id, root)
				if err != nil {
					return err
				}
				cfg := nets.TrainConfig{Epochs: *epochs, Batch: *batch, Momentum: *momentum, WeightDecay: *wd, Nesterov: *nesterov,
					Schedule: schedule, Norm: loaders.CIFARNormalization, Seed: *seed}
				if !*noAug {
					cfg.Augment = &loaders.StandardAugmentation
				}
				path := *out
				if path == "" {
					path = filepath.Join("out", "train", fmt.Sprintf("%s-%s-seed%d.ckpt", spec.Name, *id, *seed))
				}
				recipe := fmt.Sprintf("%s %s epochs=%d batch=%d schedule=%s lr=%g momentum=%g wd=%g nesterov=%v augment=%v seed=%d",
					spec.Name, *id, *epochs, *batch, *sched, *lr, *momentum, *wd, *nesterov, !*noAug, *seed)
				fmt.Fprintf(e.stdout, "training %s on %s (%d images, %d classes), BLAS %s, %d threads\n", spec.Name, *id, trainSet.Len(), trainSet.Classes, nets.BLAS(), nets.Threads())
				t0 := time.Now()
				m, hist, err := nets.Train(ctx, spec, trainSet, cfg, nets.TrainOptions{
					Checkpoint: path, Meta: map[string]string{"recipe": recipe}, Test: testSet,
					Progress: progress.New(e.stderr), Log: slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
				})
				if err != nil {
					return err
				}
				for _, h := range hist {
					fmt.Fprintf(e.stdout, "epoch %3d  lr %.4f  loss %.4f  test accuracy %5.2f%% / %5.2f%% (head 1 / head 2)  %.0fs\n",
						h.Epoch, h.LR, h.Loss, 100*h.Accuracy[0], 100*h.Accuracy[1], h.Seconds)
				}
				outs, err := nets.Predict(ctx, m, testSet, cfg.Norm, nets.PredictOptions{})
				if err != nil {
					return err
				}
				acc := outs.Accuracy(testSet.Labels)
				fmt.Fprintf(e.stdout, "%s\ncheckpoint %s\ntest accuracy: %.2f%% (head 1), %.2f%% (head 2); %.1f minutes\n",
					m.Describe(), path, 100*acc[0], 100*acc[1], time.Since(t0).Minutes())
				return nil
			}
		},
	})
}

// parseSchedule builds a learning-rate schedule from command-line words.
func parseSchedule(name string, lr, epochs float64, milestones string, gamma float64) (nets.Schedule, error) {
	switch name {
	case "onecycle":
		return nets.OneCycle{Peak: lr, PeakAt: epochs * 0.25, Epochs: epochs}, nil
	case "cosine":
		return nets.Cosine{Base: lr, Epochs: epochs}, nil
	case "constant":
		return nets.Constant(lr), nil
	case "step":
		var ms []float64
		for _, f := range strings.Split(milestones, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil {
				return nil, fmt.Errorf("--milestones: %q is not a number", f)
			}
			if v < 1 {
				v *= epochs
			}
			ms = append(ms, v)
		}
		return nets.StepDecay{Base: lr, Gamma: gamma, Milestones: ms}, nil
	}
	return nil, fmt.Errorf("unknown schedule %q (want onecycle, cosine, step or constant)", name)
}
