package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/mcdood/mcdood/benchmarks"
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
			f := &trainFlags{}
			fs.StringVar(&f.id, "id", "cifar10", "in-distribution `set` (cifar10, cifar100)")
			fs.StringVar(&f.net, "net", "resnet9-16", "network `name`")
			fs.StringVar(&f.plan, "plan", "", "take the recipe from this plan `file`'s [network.NAME]")
			r := &f.recipe
			fs.IntVar(&r.Epochs, "epochs", 10, "training epochs")
			fs.IntVar(&r.Batch, "batch", 128, "batch size")
			fs.Float64Var(&r.LR, "lr", 0.1, "peak learning rate")
			fs.StringVar(&r.Schedule, "schedule", "onecycle", "learning-rate `schedule`: onecycle, cosine, step, constant")
			fs.StringVar(&f.milestones, "milestones", "", "step schedule: `epochs` at which the rate is multiplied by --gamma (comma-separated)")
			fs.Float64Var(&r.Gamma, "gamma", 0.1, "step schedule factor")
			fs.Float64Var(&r.Warmup, "warmup", 0, "onecycle: the peak `epoch`; cosine: warm-up epochs")
			fs.Float64Var(&r.Momentum, "momentum", 0.9, "SGD momentum")
			fs.Float64Var(&r.WeightDecay, "wd", 5e-4, "weight decay")
			fs.BoolVar(&r.Nesterov, "nesterov", true, "Nesterov momentum")
			fs.StringVar(&f.augment, "augment", "crop-flip", "augmentation: crop-flip (pad 4, random crop and flip), flip-translate (airbench's) or none")
			fs.Uint64Var(&f.seed, "seed", 1, "random seed (weights, order, augmentation)")
			fs.StringVar(&f.data, "data", "", "data root (default $"+loaders.DataEnv+" or ./data)")
			fs.StringVar(&f.out, "out", "", "checkpoint `path` (default out/train/NET-ID-seedS.ckpt, or the plan's model cache with --plan)")
			fs.IntVar(&f.threads, "threads", 0, "worker threads (default all cores)")
			return noArgs(func(ctx context.Context, e *env) error {
				fs.Visit(func(fl *flag.Flag) {
					if recipeFlags[fl.Name] {
						f.recipeGiven = append(f.recipeGiven, "--"+fl.Name)
					}
				})
				return runTrain(ctx, e, *f)
			})
		},
	})
}

// trainFlags are the flags of "mcdood train".
type trainFlags struct {
	id, net, plan       string
	recipe              experiments.Recipe
	milestones, augment string
	seed                uint64
	data, out           string
	threads             int
	recipeGiven         []string // the recipe flags given on the command line
}

// recipeFlags are the flags that make a recipe; they may not be given with
// --plan, which has its own.
var recipeFlags = map[string]bool{"epochs": true, "batch": true, "lr": true, "schedule": true, "milestones": true, "gamma": true,
	"warmup": true, "momentum": true, "wd": true, "nesterov": true, "augment": true}

// runTrain pre-trains the network as a plan's run would
// (benchmarks.PretrainAndTest) and prints its history and test accuracy.
func runTrain(ctx context.Context, e *env, f trainFlags) error {
	network, plan, err := trainRecipe(f)
	if err != nil {
		return err
	}
	if network.Recipe.Published() {
		return usagef("network %s of %s loads published weights (%s): nothing to train", network.Name, f.plan, network.Recipe.Weights)
	}
	if _, err := network.TrainConfig(f.seed); err != nil {
		return err
	}
	nets.UseThreads(f.threads)
	trainSet, testSet, err := loaders.OpenID(f.id, loaders.ResolveRoot(f.data, e.getenv))
	if err != nil {
		return err
	}
	p := benchmarks.TrainPretraining(plan, f.id, network, f.seed, trainSet, testSet)
	p.Checkpoint = cmp.Or(f.out, p.Checkpoint)
	p.Progress = progress.New(e.stderr)
	p.Log = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	fmt.Fprintf(e.stdout, "training %s on %s (%d images, %d classes), %s\n", network.Name, f.id, p.Train.Len(), p.Train.Classes, nets.CurrentEngine())
	report, err := benchmarks.PretrainAndTest(ctx, p)
	if err != nil {
		return err
	}
	report.WriteText(e.stdout)
	return nil
}

// trainRecipe is the network to train: the plan's [network.NAME] with
// --plan (and the plan), else the recipe of the flags, checked as a plan's
// would be.
func trainRecipe(f trainFlags) (experiments.Network, *experiments.Plan, error) {
	if f.plan != "" {
		if len(f.recipeGiven) > 0 {
			return experiments.Network{}, nil, usagef("%s: the recipe comes from --plan; drop them or --plan", strings.Join(f.recipeGiven, ", "))
		}
		plan, err := experiments.Load(f.plan)
		if err != nil {
			return experiments.Network{}, nil, err
		}
		for _, n := range plan.Networks {
			if n.Name == f.net {
				return n, plan, nil
			}
		}
		return experiments.Network{}, nil, usagef("--plan %s has no network %q", f.plan, f.net)
	}
	spec, err := nets.ParseSpec(f.net)
	if err != nil {
		return experiments.Network{}, nil, usagef("%v", err)
	}
	r := f.recipe
	if err := r.Augment.UnmarshalTOML(f.augment); err != nil {
		return experiments.Network{}, nil, usagef("--augment: %v", err)
	}
	if r.Schedule == "onecycle" && r.Warmup == 0 {
		r.Warmup = float64(r.Epochs) / 4
	}
	for _, s := range strings.Split(f.milestones, ",") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return experiments.Network{}, nil, usagef("--milestones: %q is not a number", s)
		}
		r.Milestones = append(r.Milestones, v)
	}
	if err := r.Check(); err != nil {
		return experiments.Network{}, nil, usagef("recipe: %v", err)
	}
	return experiments.Network{Name: f.net, Spec: spec, Recipe: r}, nil, nil
}
