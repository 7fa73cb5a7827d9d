package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/mcdood/mcdood/metrics"
	"github.com/mcdood/mcdood/results"
)

func init() {
	register(&command{
		name:    "metrics",
		order:   20,
		summary: "compute FPR@95TPR, detection error, AUROC, AUPR-In and AUPR-Out from two score files",
		usage:   "(--id FILE --ood FILE | --scores FILE) [--mode exact|paper] [--convention id-positive|ood-positive] [--format json|text] [--bootstrap N]",
		help: `
Each file holds one score per line, a higher score meaning more
in-distribution (MCD's score is the negated discrepancy). Blank lines and
everything from a "#" to the end of a line are ignored, so a score may carry
a trailing comment. A line that is not exactly one finite number is an
error naming the file and the line. "-" reads standard input (for one of
the two files). A file ending in .npy is read as a 1-D numpy array;
--scores reads both sets from one file that mcdood scores exported (.npz or
.csv).

ID is the positive class unless --convention ood-positive, which reads
FPR@95TPR as OpenOOD v1.5 does: the share of ID images flagged as OOD when
95% of the OOD images are (the other four metrics do not depend on the
convention). All five metrics are fractions in [0, 1] in JSON
and percentages in text. --mode exact (the default) uses the package
metrics definitions, which agree with scikit-learn; --mode paper reproduces
the MCD authors' test.py on the negated scores, for putting numbers beside
the paper's (see "go doc ./metrics" for where the two differ).

JSON output is one object with the keys fpr95, detection_error, auroc,
aupr_in and aupr_out; "fpr95_fallback": true is added when paper mode found
no threshold in test.py's TPR window and reports the exact FPR95 instead,
and "ci" (a {"low", "high"} pair per metric) with --bootstrap.`,
		flags: func(fs *flag.FlagSet) runFunc {
			f := &metricsFlags{}
			fs.StringVar(&f.id, "id", "", "file of in-distribution scores (`FILE`, .npy, or - for stdin)")
			fs.StringVar(&f.ood, "ood", "", "file of out-of-distribution scores (`FILE`, .npy, or - for stdin)")
			fs.StringVar(&f.both, "scores", "", "both sets from one `FILE` of mcdood scores: .npz (arrays id and ood) or .csv (set,score)")
			fs.StringVar(&f.mode, "mode", "exact", "metric definitions: exact or paper (the MCD authors' test.py)")
			fs.StringVar(&f.convention, "convention", "id-positive", "FPR@95's positive class: id-positive (ODIN, the MCD paper) or ood-positive (OpenOOD, pytorch-ood)")
			fs.StringVar(&f.format, "format", "text", "output format: json or text")
			fs.IntVar(&f.resamples, "bootstrap", 0, "add percentile bootstrap confidence intervals from `N` resamples (0: none)")
			fs.Float64Var(&f.level, "level", 0.95, "coverage of the bootstrap intervals, in (0, 1)")
			fs.Uint64Var(&f.seed, "seed", 1, "seed of the bootstrap resampling")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q (the files go after --id and --ood)", args)
				}
				return runMetrics(e, *f)
			}
		},
	})
}

// metricsFlags are the flags of "mcdood metrics".
type metricsFlags struct {
	id, ood, both, mode, convention, format string
	resamples                               int
	level                                   float64
	seed                                    uint64
}

// check finds what is wrong with the flags, and reads the metric mode.
func (f metricsFlags) check() (metrics.Mode, error) {
	switch {
	case f.both != "" && (f.id != "" || f.ood != ""):
		return 0, usagef("give --scores, or --id and --ood, not both")
	case f.both == "" && (f.id == "" || f.ood == ""):
		return 0, usagef("both --id and --ood are required (or --scores)")
	case f.id == "-" && f.ood == "-":
		return 0, usagef("only one of --id and --ood can be - (standard input)")
	}
	m, err := parseModeConvention(f.mode, f.convention)
	switch {
	case err != nil:
		return 0, usagef("%v", err)
	case f.format != "json" && f.format != "text":
		return 0, usagef("unknown format %q (want json or text)", f.format)
	case f.resamples < 0 || f.resamples == 1:
		return 0, usagef("--bootstrap wants 0 (off) or at least 2 resamples, got %d", f.resamples)
	case f.resamples > 0 && !(f.level > 0 && f.level < 1):
		return 0, usagef("--level %v outside (0, 1)", f.level)
	}
	return m, nil
}

// runMetrics reads the score files and prints their metrics.
func runMetrics(e *env, f metricsFlags) error {
	m, err := f.check()
	if err != nil {
		return err
	}
	var id, ood []float64
	if f.both != "" {
		id, ood, err = results.ReadScorePair(f.both)
	} else if id, err = readScoreFile(f.id); err == nil {
		ood, err = readScoreFile(f.ood)
	}
	if err != nil {
		return err
	}
	boot := metrics.BootstrapConfig{Resamples: f.resamples, Level: f.level, Seed: f.seed}
	out, err := results.ComputePair(id, ood, m, boot)
	if err != nil {
		return err
	}
	if out.FPR95Fallback {
		fmt.Fprintf(e.stderr, "mcdood metrics: warning: no threshold has a TPR in test.py's window [94.95%%, 95.05%%] "+
			"(%d ID scores); FPR@95TPR is the exact value\n", len(id))
	}
	if f.format == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	return out.WriteText(e.stdout)
}

// metricsStdin is what "-" reads; tests replace it.
var metricsStdin io.Reader = os.Stdin

// readScoreFile reads a score file ("-" for metricsStdin).
func readScoreFile(path string) ([]float64, error) {
	if path == "-" {
		return results.ParseScores("<stdin>", metricsStdin)
	}
	return results.ReadScores(path)
}

// parseModeConvention reads --mode and --convention into one metrics.Mode.
func parseModeConvention(mode, convention string) (metrics.Mode, error) {
	m, err := metrics.ParseMode(mode)
	if err != nil {
		return 0, err
	}
	c, err := metrics.ParseConvention(convention)
	if err != nil {
		return 0, err
	}
	return metrics.ModeFor(m, c)
}
