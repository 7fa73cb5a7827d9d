package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mcdood/mcdood/benchmarks"
	"github.com/mcdood/mcdood/experiments"
	"github.com/mcdood/mcdood/internal/buildinfo"
	"github.com/mcdood/mcdood/internal/progress"
	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/results"

	// Detectors register themselves.
	_ "github.com/mcdood/mcdood/baselines"
	_ "github.com/mcdood/mcdood/mcd"
)

func init() {
	register(&command{
		name:    "reproduce",
		order:   50,
		summary: "run an experiment plan (TOML) and print the tables beside the paper's",
		usage:   "-c FILE [--data DIR] [--out DIR] [--seeds 1,2,3] [--ood SET,...] [--methods M,...] [--shard i/n]",
		help: `First opens, decodes and checks every data set the cells without a record
need and prints what is there, what is missing (with the command that
fetches it) and what is broken (the file, and what is wrong); a broken set
stops the run before any training, unless --skip-broken. A missing set's
cells are skipped. Then runs every cell of the plan that has no record yet:
pre-trains each network once (cached under OUT/models, or the plan's
models folder, by a hash of its recipe), prepares each detector (ODIN
tuning, MCD fine-tuning), scores the test images and stores
one record per cell under OUT/records. A killed run resumes where it stopped;
a second run of a finished plan only re-renders the tables. Tables (text,
Markdown, CSV) go to OUT/tables and stdout, plots to OUT/plots; they are
rebuilt from every record in OUT, checked against its scores (as "mcdood
table --results OUT" does), so a run of some of the cells keeps the rows
of the others.

Any number of runs may share one OUT, on one machine or many (a shared file
system: NFS version 3 or later): each claims a cell before computing it
(OUT/claims), so no cell is computed twice, and each waits for the cells
others hold, so every run ends with the whole table. A claim whose run died
is taken over at once on the same host, after --claim-stale elsewhere, and
its cell resumes from its checkpoint; each run logs its claims to
OUT/claims/HOST.PID.log. So a SLURM array of N identical workers needs no
--shard (scripts/slurm/workers.sbatch).

A cell that trains for long (MCD) checkpoints at each epoch's end, and every
checkpoint_every steps of its plan or, when the plan sets none,
--checkpoint-every, under OUT/checkpoints: a killed or requeued run resumes
it with the result an uninterrupted run gets.

--seeds replaces the plan's seeds: each seed pre-trains its own network and
runs every cell again, so the tables show mean ± std over the seeds.

--ood and --methods keep only the cells on these of the plan's OOD sets,
or of these of its methods (their records are the full plan's: the same
keys), as for a seed study of the baselines alone:
  mcdood reproduce --seeds 2,3 --methods msp,odin --ood tinyimagenet-crop

--shard i/n runs only cells i, i+n, i+2n, ... (0-based): a fixed deal for
runs that cannot share a folder; merge the shards' OUT folders afterwards
(copy the records/ and scores/ files into one folder, or results.Merge) and
run "mcdood table --results DIR".`,
		flags: func(fs *flag.FlagSet) runFunc {
			f := &reproduceFlags{}
			fs.StringVar(&f.config, "c", "experiments.toml", "experiment plan `file`")
			fs.StringVar(&f.data, "data", "", "data root (default: the plan's data, else $"+loaders.DataEnv+", else ./data)")
			fs.StringVar(&f.out, "out", "", "output folder (default: the plan's out)")
			fs.StringVar(&f.shard, "shard", "", "run only shard `i/n` of the cells")
			fs.StringVar(&f.seeds, "seeds", "", "run these `seeds` (comma-separated) instead of the plan's")
			fs.StringVar(&f.ood, "ood", "", "run only the cells on these of the plan's OOD `sets` (comma-separated)")
			fs.StringVar(&f.methods, "methods", "", "run only the cells of these of the plan's `methods` (comma-separated)")
			fs.IntVar(&f.threads, "threads", 0, "worker threads (default all cores)")
			fs.StringVar(&f.refNet, "reference-network", "densenet-bc-100", "network whose published numbers stand beside networks the papers do not report (\"\" for none)")
			fs.BoolVar(&f.quiet, "quiet", false, "no progress reports")
			fs.IntVar(&f.checkpointEvery, "checkpoint-every", 0, "also checkpoint a long-training cell every `steps`, unless its plan sets checkpoint_every (default: at each epoch's end only)")
			fs.DurationVar(&f.claimStale, "claim-stale", results.DefaultClaimStale, "take over another host's claim untouched this `long`")
			fs.BoolVar(&f.skipBroken, "skip-broken", false, "run the other cells when a data set is broken (its cells fail; the exit status is 1)")
			return noArgs(func(ctx context.Context, e *env) error { return runReproduce(ctx, e, *f) })
		},
	})
}

// reproduceFlags are the flags of "mcdood reproduce".
type reproduceFlags struct {
	config, data, out, shard    string
	seeds, ood, methods, refNet string
	threads, checkpointEvery    int
	claimStale                  time.Duration
	quiet, skipBroken           bool
}

// runReproduce loads and narrows the plan, resolves the data root and the
// output folder, and runs benchmarks.Reproduce.
func runReproduce(ctx context.Context, e *env, f reproduceFlags) error {
	plan, err := loadPlan(f)
	if err != nil {
		return err
	}
	o := benchmarks.ReproduceOptions{ReferenceNetwork: f.refNet, Stdout: e.stdout,
		Unverified: func(files []string) { noteUnverified(e, "reproduce", files) }}
	if f.shard != "" {
		if o.Shard, o.Shards, err = parseShard(f.shard); err != nil {
			return usagef("--shard: %v", err)
		}
	}
	nets.UseThreads(f.threads)
	root := f.data
	if root == "" && e.getenv(loaders.DataEnv) == "" {
		root = plan.File.Data
	}
	o.DataRoot = loaders.ResolveRoot(root, e.getenv)
	if st, err := os.Stat(o.DataRoot); err == nil && !st.IsDir() {
		return fmt.Errorf("data root %s is not a directory", o.DataRoot)
	}
	o.Out = cmp.Or(f.out, plan.File.Out)
	if !f.quiet {
		o.Progress = progress.New(e.stderr)
	}
	o.Log = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	o.Commit, o.Machine, o.SkipBroken = buildinfo.Revision(), nets.Machine(), f.skipBroken
	if f.checkpointEvery < 0 || f.claimStale <= 0 {
		return usagef("--checkpoint-every must be ≥ 0 and --claim-stale positive")
	}
	o.CheckpointEvery, o.Claims.Stale = f.checkpointEvery, f.claimStale
	_, err = benchmarks.Reproduce(ctx, plan, o)
	return err
}

// loadPlan loads the plan of -c with the cells --seeds, --ood and --methods
// choose.
func loadPlan(f reproduceFlags) (*experiments.Plan, error) {
	plan, err := experiments.Load(f.config)
	if err != nil {
		return nil, err
	}
	if f.seeds != "" {
		list, err := parseSeeds(f.seeds)
		if err == nil {
			err = plan.SetSeeds(list)
		}
		if err != nil {
			return nil, usagef("--seeds: %v", err)
		}
	}
	if f.ood != "" {
		if err := plan.OnlyOOD(strings.Split(f.ood, ",")); err != nil {
			return nil, usagef("--ood: %v", err)
		}
	}
	if f.methods != "" {
		if err := plan.OnlyMethods(strings.Split(f.methods, ",")); err != nil {
			return nil, usagef("--methods: %v", err)
		}
	}
	return plan, nil
}

func parseShard(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	if ok {
		i, err = strconv.Atoi(a)
		if err == nil {
			n, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("%q: want i/n with 0 ≤ i < n", s)
	}
	return i, n, nil
}

// parseSeeds reads "1,2,3".
func parseSeeds(s string) ([]uint64, error) {
	var out []uint64
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a seed (a non-negative integer)", f)
		}
		out = append(out, n)
	}
	return out, nil
}
