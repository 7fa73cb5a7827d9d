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

	"github.com/mcdood/mcdood/experiments"
	"github.com/mcdood/mcdood/internal/progress"
	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"
)

func init() {
	register(&command{
		name:    "train",
		order:   40,
		summary: "pre-train a two-head network on an in-distribution set and save a checkpoint",
		usage:   "--id cifar10 --net NAME (--plan FILE | --epochs N [recipe flags]) [flags]",
		help: `Trains the feature extractor and both classifier heads with cross-entropy
(the pre-training of Yu & Aizawa, ICCV 2019), evaluates test accuracy after
every epoch, and writes a checkpoint after every epoch. Rerunning the same
command resumes from the checkpoint; a checkpoint of a different recipe is
refused.

With --plan the checkpoint is written where "mcdood reproduce" of that plan
looks for the network (MODELS/KEY.ckpt: the plan's models, default its
out's models/), so that
the plan's runs use it instead of training again.

The recipe is the [network.NAME] table of --plan, or the recipe flags, which
mean what the plan's keys of the same names mean (go doc ./experiments
Recipe); --warmup 0 with the onecycle schedule puts the peak at a quarter
of --epochs.`,
		flags: func(fs *flag.FlagSet) runFunc {
			id := fs.String("id", "cifar10", "in-distribution `set` (cifar10, cifar100)")
			net := fs.String("net", "resnet9-16", "network `name`")
			planFile := fs.String("plan", "", "take the recipe from this plan `file`'s [network.NAME]")
			var r experiments.Recipe
			fs.IntVar(&r.Epochs, "epochs", 10, "training epochs")
			fs.IntVar(&r.Batch, "batch", 128, "batch size")
			fs.Float64Var(&r.LR, "lr", 0.1, "peak learning rate")
			fs.StringVar(&r.Schedule, "schedule", "onecycle", "learning-rate `schedule`: onecycle, cosine, step, constant")
			milestones := fs.String("milestones", "", "step schedule: `epochs` at which the rate is multiplied by --gamma (comma-separated)")
			fs.Float64Var(&r.Gamma, "gamma", 0.1, "step schedule factor")
			fs.Float64Var(&r.Warmup, "warmup", 0, "onecycle: the peak `epoch`; cosine: warm-up epochs")
			fs.Float64Var(&r.Momentum, "momentum", 0.9, "SGD momentum")
			fs.Float64Var(&r.WeightDecay, "wd", 5e-4, "weight decay")
			fs.BoolVar(&r.Nesterov, "nesterov", true, "Nesterov momentum")
			augment := fs.String("augment", "crop-flip", "augmentation: crop-flip (pad 4, random crop and flip), flip-translate (airbench's) or none")
			seed := fs.Uint64("seed", 1, "random seed (weights, order, augmentation)")
			data := fs.String("data", "", "data root (default $"+loaders.DataEnv+" or ./data)")
			out := fs.String("out", "", "checkpoint `path` (default out/train/NET-ID-seedS.ckpt, or the plan's model cache with --plan)")
			threads := fs.Int("threads", 0, "worker threads (default all cores)")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				network, plan, err := trainRecipe(fs, *planFile, *net, r, *milestones, *augment)
				if err != nil {
					return err
				}
				if network.Recipe.Published() {
					return usagef("network %s of %s loads published weights (%s): nothing to train", network.Name, *planFile, network.Recipe.Weights)
				}
				cfg, err := network.TrainConfig(*seed)
				if err != nil {
					return err
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
				if plan != nil {
					// The plan's cap is part of its model key.
					trainSet = trainSet.Head(plan.File.TrainImages)
				}
				test := loaders.Batches{Set: testSet, Norm: network.Normalization()}
				// With --plan the checkpoint is the plan's cached model (the
				// path and recipe key reproduce looks for), so that a
				// reproduce of the plan uses it instead of training again.
				recipe := fmt.Sprintf("%s %s %+v seed=%d", network.Name, *id, network.Recipe, *seed)
				path := filepath.Join("out", "train", fmt.Sprintf("%s-%s-seed%d.ckpt", network.Name, *id, *seed))
				if plan != nil {
					recipe = plan.ModelKey(*id, network.Name, *seed)
					path = filepath.Join(plan.File.ModelDir(plan.File.Out), recipe+".ckpt")
				}
				if *out != "" {
					path = *out
				}
				fmt.Fprintf(e.stdout, "training %s on %s (%d images, %d classes), BLAS %s, kernels %s, convolutions %s, %d threads\n", network.Name, *id, trainSet.Len(), trainSet.Classes, nets.BLAS(), nets.Kernels(), nets.Conv(), nets.Threads())
				t0 := time.Now()
				m, hist, err := nets.Train(ctx, network.Spec, network.TrainingSet(trainSet, *seed), cfg, nets.TrainOptions{
					Checkpoint: path, Meta: map[string]string{"recipe": recipe}, Test: test,
					Progress: progress.New(e.stderr), Log: slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
				})
				if err != nil {
					return err
				}
				for _, h := range hist {
					fmt.Fprintf(e.stdout, "epoch %3d  lr %.4f  loss %.4f  test accuracy %5.2f%% / %5.2f%% (head 1 / head 2)  %.0fs\n",
						h.Epoch, h.LR, h.Loss, 100*h.Accuracy[0], 100*h.Accuracy[1], h.Seconds)
				}
				outs, err := nets.Predict(ctx, m, test, nets.PredictOptions{})
				if err != nil {
					return err
				}
				acc := outs.Accuracy(testSet.Labels)
				fmt.Fprintf(e.stdout, "%s\ncheckpoint %s\ntest accuracy: %.2f%% (head 1), %.2f%% (head 2); %.1f minutes\n",
					m.Describe(), path, 100*acc[0], 100*acc[1], time.Since(t0).Minutes())
				if tta := network.Recipe.TTA; tta > 0 {
					outs, err := nets.Predict(ctx, m, test, nets.PredictOptions{TTA: tta})
					if err != nil {
						return err
					}
					acc := outs.Accuracy(testSet.Labels)
					fmt.Fprintf(e.stdout, "with test-time augmentation (level %d): %.2f%% (head 1), %.2f%% (head 2)\n", tta, 100*acc[0], 100*acc[1])
				}
				// The mirror's test images 0–999 are exact, the rest carry
				// JPEG error (shared/data/README.md): say what that costs.
				if n := 1000; n < testSet.Len() {
					exact, rest := outs.AccuracyRange(testSet.Labels, 0, n), outs.AccuracyRange(testSet.Labels, n, testSet.Len())
					fmt.Fprintf(e.stdout, "head 1 on test images 0–%d: %.2f%%; on the other %d: %.2f%%\n", n-1, 100*exact[0], testSet.Len()-n, 100*rest[0])
				}
				return nil
			}
		},
	})
}

// recipeFlags are the flags that make a recipe; they may not be given with
// --plan, which has its own.
var recipeFlags = map[string]bool{"epochs": true, "batch": true, "lr": true, "schedule": true, "milestones": true, "gamma": true,
	"warmup": true, "momentum": true, "wd": true, "nesterov": true, "augment": true}

// trainRecipe is the network to train: the plan's [network.NAME] with
// --plan (and the plan), else the recipe of the flags, checked as a plan's
// would be.
func trainRecipe(fs *flag.FlagSet, planFile, name string, r experiments.Recipe, milestones, augment string) (experiments.Network, *experiments.Plan, error) {
	if planFile != "" {
		var set []string
		fs.Visit(func(f *flag.Flag) {
			if recipeFlags[f.Name] {
				set = append(set, "--"+f.Name)
			}
		})
		if len(set) > 0 {
			return experiments.Network{}, nil, usagef("%s: the recipe comes from --plan; drop them or --plan", strings.Join(set, ", "))
		}
		plan, err := experiments.Load(planFile)
		if err != nil {
			return experiments.Network{}, nil, err
		}
		for _, n := range plan.Networks {
			if n.Name == name {
				return n, plan, nil
			}
		}
		return experiments.Network{}, nil, usagef("--plan %s has no network %q", planFile, name)
	}
	spec, err := nets.ParseSpec(name)
	if err != nil {
		return experiments.Network{}, nil, usagef("%v", err)
	}
	if err := r.Augment.UnmarshalTOML(augment); err != nil {
		return experiments.Network{}, nil, usagef("--augment: %v", err)
	}
	if r.Schedule == "onecycle" && r.Warmup == 0 {
		r.Warmup = float64(r.Epochs) / 4
	}
	for _, f := range strings.Split(milestones, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return experiments.Network{}, nil, usagef("--milestones: %q is not a number", f)
		}
		r.Milestones = append(r.Milestones, v)
	}
	if err := r.Check(); err != nil {
		return experiments.Network{}, nil, usagef("recipe: %v", err)
	}
	return experiments.Network{Name: name, Spec: spec, Recipe: r}, nil, nil
}
