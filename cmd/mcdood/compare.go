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
			var dirs multiFlag
			fs.Var(&dirs, "results", "results `DIR` (holding records/); repeat for several")
			baseline := fs.String("baseline", "", "baseline `FILE` to compare with")
			write := fs.String("write-baseline", "", "write the results as a baseline `FILE` instead of comparing")
			mode := fs.String("mode", "", "with --write-baseline: which metrics of the records, exact (default) or paper")
			convention := fs.String("convention", "", "with --write-baseline: FPR@95's positive class, id-positive (default) or ood-positive")
			k := fs.Float64("k", results.DefaultK, "standard deviations of the baseline a number may move")
			tolerance := fs.Float64("tolerance", results.DefaultTolerance, "the least margin, in fractions (the floor under k·std)")
			perMetric := fs.String("metric-tolerance", "", "per-metric floors `METRIC=VALUE,...` (fpr95, detection_error, auroc, aupr_in, aupr_out, accuracy)")
			plan := fs.String("plan", "", "only the records of this plan `name`")
			partial := fs.Bool("partial", false, "the results are a deliberate part of the baseline's cells (reproduce --ood): its groups without a record pass, as long as one record is compared")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				if len(dirs) == 0 {
					return usagef("--results is required")
				}
				if (*baseline == "") == (*write == "") {
					return usagef("give exactly one of --baseline and --write-baseline")
				}
				if *baseline != "" && (*mode != "" || *convention != "") {
					return usagef("--mode and --convention apply to --write-baseline only (a baseline records its mode)")
				}
				if !(*k > 0) {
					return usagef("--k %v: want > 0", *k)
				}
				tol, err := results.ParseTolerances(*tolerance, *perMetric)
				if err != nil {
					return usagef("%v", err)
				}
				var recs []*results.Record
				for _, dir := range dirs {
					r, err := loadRecords(e, "compare", dir, *plan)
					if err != nil {
						return err
					}
					recs = append(recs, r...)
				}
				if *write != "" {
					m, err := parseModeConvention(cmp.Or(*mode, "exact"), cmp.Or(*convention, "id-positive"))
					if err != nil {
						return usagef("%v", err)
					}
					b, err := results.NewBaseline(recs, m)
					if err != nil {
						return err
					}
					if err := results.WriteBaseline(*write, b); err != nil {
						return err
					}
					fmt.Fprintf(e.stderr, "mcdood compare: wrote %s: %d groups of %d records, %s metrics\n", *write, len(b.Groups), len(recs), m)
					return nil
				}
				b, err := results.ReadBaseline(*baseline)
				if err != nil {
					return err
				}
				c, err := results.Compare(b, recs, results.CompareOptions{K: *k, Floor: tol, Partial: *partial})
				if err != nil {
					return err
				}
				if err := c.WriteText(e.stdout); err != nil {
					return err
				}
				if err := c.Err(); err != nil {
					return fmt.Errorf("%s against %s: %w", strings.Join(dirs, ", "), *baseline, err)
				}
				return nil
			}
		},
	})
}

// multiFlag is a flag that may be given several times.
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error {
	*m = append(*m, v)
	return nil
}
