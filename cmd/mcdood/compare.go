package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/mcdood/mcdood/results"
)

func init() {
	register(&command{
		name:    "compare",
		order:   70,
		summary: "check stored results against a baseline's spread; exit 1 on a regression",
		usage:   "--results DIR [--results DIR ...] (--baseline FILE [--partial] [--k 4] [--tolerance 0.02] [--metric-tolerance auroc=0.01,...] | --write-baseline FILE)",
		help: `
With --write-baseline, gathers the records of every DIR (several seeds of
each configuration, and where cheap several kernel paths or builds, each in
its own DIR) into FILE: for every seed group — the cells that differ only in
their seed — the accuracy and the five metrics of each run (a draw), and
their mean and standard deviation (JSON, fractions; see "go doc ./results
Baseline").

With --baseline, compares every record of the DIRs with its group's
distribution and prints one line per number outside it. A number worse than
the group's mean by more than max(k·std, floor) is a regression: for fpr95
and detection_error higher is worse, for auroc, aupr_in, aupr_out and
accuracy lower is worse. k is --k (default 4); the floor is --tolerance
(absolute, in fractions: 0.02 is two percentage points), or its
--metric-tolerance for one metric, and matters where the draws agree
closely. Better by more than the margin is an improvement, reported but
passing. A baseline group with no record is an error (with --partial, for
a run of part of the cells such as reproduce --ood, it is listed as not run,
and at least one record must be compared); records of groups not in the
baseline are listed as new. The exit status is 1 on any regression or
missing group.

Groups hash the configuration, so a baseline from another configuration
shows as missing groups; write a new baseline after an intended change.`,
		flags: func(fs *flag.FlagSet) runFunc {
			f := &compareFlags{}
			fs.Var(&f.dirs, "results", "results `DIR` (holding records/); repeat for several")
			fs.StringVar(&f.baseline, "baseline", "", "baseline `FILE` to compare with")
			fs.StringVar(&f.write, "write-baseline", "", "write the results as a baseline `FILE` instead of comparing")
			fs.StringVar(&f.mode, "mode", "", "with --write-baseline: which metrics of the records, exact (default) or paper")
			fs.StringVar(&f.convention, "convention", "", "with --write-baseline: FPR@95's positive class, id-positive (default) or ood-positive")
			fs.Float64Var(&f.k, "k", results.DefaultK, "standard deviations of the baseline a number may move")
			fs.Float64Var(&f.tolerance, "tolerance", results.DefaultTolerance, "the least margin, in fractions (the floor under k·std)")
			fs.StringVar(&f.perMetric, "metric-tolerance", "", "per-metric floors `METRIC=VALUE,...` (fpr95, detection_error, auroc, aupr_in, aupr_out, accuracy)")
			fs.StringVar(&f.plan, "plan", "", "only the records of this plan `name`")
			fs.BoolVar(&f.partial, "partial", false, "the results are a deliberate part of the baseline's cells (reproduce --ood): its groups without a record pass, as long as one record is compared")
			return noArgs(func(ctx context.Context, e *env) error { return runCompare(e, *f) })
		},
	})
}

// compareFlags are the flags of "mcdood compare".
type compareFlags struct {
	dirs                                    multiFlag
	baseline, write, mode, convention, plan string
	k, tolerance                            float64
	perMetric                               string
	partial                                 bool
}

// runCompare writes a baseline from the records of the DIRs, or compares
// them with one.
func runCompare(e *env, f compareFlags) error {
	switch {
	case len(f.dirs) == 0:
		return usagef("--results is required")
	case (f.baseline == "") == (f.write == ""):
		return usagef("give exactly one of --baseline and --write-baseline")
	case f.baseline != "" && (f.mode != "" || f.convention != ""):
		return usagef("--mode and --convention apply to --write-baseline only (a baseline records its mode)")
	case !(f.k > 0):
		return usagef("--k %v: want > 0", f.k)
	}
	tol, err := results.ParseTolerances(f.tolerance, f.perMetric)
	if err != nil {
		return usagef("%v", err)
	}
	var recs []*results.Record
	for _, dir := range f.dirs {
		r, err := loadRecords(e, "compare", dir, f.plan)
		if err != nil {
			return err
		}
		recs = append(recs, r...)
	}
	if f.write != "" {
		return writeBaseline(e, f, recs)
	}
	b, err := results.ReadBaseline(f.baseline)
	if err != nil {
		return err
	}
	c, err := results.Compare(b, recs, results.CompareOptions{K: f.k, Floor: tol, Partial: f.partial})
	if err != nil {
		return err
	}
	if err := c.WriteText(e.stdout); err != nil {
		return err
	}
	if err := c.Err(); err != nil {
		return fmt.Errorf("%s against %s: %w", strings.Join(f.dirs, ", "), f.baseline, err)
	}
	return nil
}

// writeBaseline writes recs as the baseline --write-baseline names.
func writeBaseline(e *env, f compareFlags, recs []*results.Record) error {
	m, err := parseModeConvention(cmp.Or(f.mode, "exact"), cmp.Or(f.convention, "id-positive"))
	if err != nil {
		return usagef("%v", err)
	}
	b, err := results.NewBaseline(recs, m)
	if err != nil {
		return err
	}
	if err := results.WriteBaseline(f.write, b); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "mcdood compare: wrote %s: %d groups of %d records, %s metrics\n", f.write, len(b.Groups), len(recs), m)
	return nil
}

// multiFlag is a flag that may be given several times.
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error {
	*m = append(*m, v)
	return nil
}
