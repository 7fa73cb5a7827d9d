package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
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

One run at a time per OUT: a second run on the same OUT stops at once,
naming the first one's pid and host (shards of one plan may share OUT;
a killed run's claim ends with it).

--seeds replaces the plan's seeds: each seed pre-trains its own network and
runs every cell again, so the tables show mean ± std over the seeds.

--ood and --methods keep only the cells on these of the plan's OOD sets,
or of these of its methods (their records are the full plan's: the same
keys), as for a seed study of the baselines alone:
  mcdood reproduce --seeds 2,3 --methods msp,odin --ood tinyimagenet-crop

--shard i/n runs cells i, i+n, i+2n, ... (0-based), for SLURM arrays or
Kubernetes indexed jobs; merge the shards' OUT folders afterwards (copy the
records/ and scores/ files into one folder, or results.Merge) and run
"mcdood table --results DIR".`,
		flags: func(fs *flag.FlagSet) runFunc {
			config := fs.String("c", "experiments.toml", "experiment plan `file`")
			data := fs.String("data", "", "data root (default: the plan's data, else $"+loaders.DataEnv+", else ./data)")
			out := fs.String("out", "", "output folder (default: the plan's out)")
			shard := fs.String("shard", "", "run only shard `i/n` of the cells")
			seeds := fs.String("seeds", "", "run these `seeds` (comma-separated) instead of the plan's")
			oodSets := fs.String("ood", "", "run only the cells on these of the plan's OOD `sets` (comma-separated)")
			methods := fs.String("methods", "", "run only the cells of these of the plan's `methods` (comma-separated)")
			threads := fs.Int("threads", 0, "worker threads (default all cores)")
			refNet := fs.String("reference-network", "densenet-bc-100", "network whose published numbers stand beside networks the papers do not report (\"\" for none)")
			quiet := fs.Bool("quiet", false, "no progress reports")
			skipBroken := fs.Bool("skip-broken", false, "run the other cells when a data set is broken (its cells fail; the exit status is 1)")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				plan, err := experiments.Load(*config)
				if err != nil {
					return err
				}
				if *seeds != "" {
					list, err := parseSeeds(*seeds)
					if err == nil {
						err = plan.SetSeeds(list)
					}
					if err != nil {
						return usagef("--seeds: %v", err)
					}
				}
				if *oodSets != "" {
					if err := plan.OnlyOOD(strings.Split(*oodSets, ",")); err != nil {
						return usagef("--ood: %v", err)
					}
				}
				if *methods != "" {
					if err := plan.OnlyMethods(strings.Split(*methods, ",")); err != nil {
						return usagef("--methods: %v", err)
					}
				}
				var sh, shards int
				if *shard != "" {
					if sh, shards, err = parseShard(*shard); err != nil {
						return usagef("--shard: %v", err)
					}
				}
				if *threads > 0 {
					runtime.GOMAXPROCS(*threads)
					nets.SetThreads(*threads)
				}
				root := *data
				if root == "" && e.getenv(loaders.DataEnv) == "" {
					root = plan.File.Data
				}
				root = loaders.ResolveRoot(root, e.getenv)
				if st, err := os.Stat(root); err == nil && !st.IsDir() {
					return fmt.Errorf("data root %s is not a directory", root)
				}
				outDir := *out
				if outDir == "" {
					outDir = plan.File.Out
				}
				_, statErr := os.Stat(outDir)
				lock, err := results.LockDir(outDir, sh, shards)
				if err != nil {
					return err
				}
				defer func() {
					lock.Unlock()
					if errors.Is(statErr, os.ErrNotExist) {
						os.Remove(outDir) // made by this run, which left it empty
					}
				}()
				var rep *progress.Reporter
				if !*quiet {
					rep = progress.New(e.stderr)
				}
				log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
				fmt.Fprintf(e.stdout, "plan %s (%s): %d cells; data %s; output %s; BLAS %s, kernels %s, convolutions %s, %d threads\n",
					plan.Name, *config, len(plan.Cells), root, outDir, nets.BLAS(), nets.Kernels(), nets.Conv(), nets.Threads())
				t0 := time.Now()
				bopts := benchmarks.Options{DataRoot: root, Out: outDir, Models: plan.File.ModelDir(outDir), Shard: sh, Shards: shards,
					Commit: buildinfo.Revision(), Machine: machine(), Progress: rep, Log: log, SkipBroken: *skipBroken, Lock: lock}
				// The data pass: every set the pending cells need, decoded
				// and checked before anything is trained.
				if bopts.Data, err = benchmarks.OpenData(ctx, plan, bopts); err != nil {
					return err
				}
				if len(bopts.Data.Sets) > 0 {
					fmt.Fprintf(e.stdout, "data for the %s cells without a record (%.1f s):\n", shardName(sh, shards), time.Since(t0).Seconds())
					if err := bopts.Data.WriteTable(e.stdout); err != nil {
						return err
					}
				}
				sum, err := benchmarks.Run(ctx, plan, bopts)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%d cells run, %d already recorded, %d failed, %.1f minutes\n", sum.Done, sum.Skipped, len(sum.Failed), time.Since(t0).Minutes())
				for _, m := range sum.Missing {
					fmt.Fprintf(e.stdout, "missing data %s: %d cells skipped; get it with: %s\n", m.Name, m.Cells, m.Fetch)
				}
				for _, f := range sum.Failed {
					fmt.Fprintf(e.stdout, "failed %s: %v\n", f.Key, f.Err)
				}
				noteUnverified(e, "reproduce", sum.Unverified)
				failed := func() error {
					if len(sum.Failed) == 0 {
						return nil
					}
					return fmt.Errorf("%d cells failed (listed above); the others ran", len(sum.Failed))
				}
				if len(sum.Records) == 0 {
					if err := failed(); err != nil {
						return err
					}
					return fmt.Errorf("no records: nothing to tabulate")
				}
				opts := results.ReportOptions{Log: log, Table: results.TableOptions{CI: plan.File.Bootstrap > 0,
					ReferenceNetwork: *refNet, Methods: plan.File.Methods, OODs: plan.File.OOD}}
				if err := results.WriteReport(outDir, sum.Records, opts); err != nil {
					return err
				}
				table, err := results.BuildTable(sum.Records, opts.Table)
				if err != nil {
					return err
				}
				if err := table.Write(e.stdout, results.Text); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "tables: %s; plots: %s\n", filepath.Join(outDir, "tables"), filepath.Join(outDir, "plots"))
				return failed()
			}
		},
	})
}

// shardName says which cells a run takes: "all", or "shard 2/4 of the".
func shardName(sh, shards int) string {
	if shards <= 1 {
		return "plan's"
	}
	return fmt.Sprintf("shard %d/%d's", sh, shards)
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

// machine describes this computer: host, CPU model, cores.
func machine() string {
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
