package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/mcdood/mcdood/metrics"
	"github.com/mcdood/mcdood/results"
)

func init() {
	register(&command{
		name:    "compare",
		order:   70,
		summary: "check stored results against a baseline file; exit 1 on a regression",
		usage:   "--results DIR (--baseline FILE [--tolerance 0.02] [--metric-tolerance auroc=0.01,...] | --write-baseline FILE)",
		help: `
With --write-baseline, writes the accuracy and the five metrics of every
record in DIR to FILE (JSON, fractions; see "go doc ./results Baseline").

With --baseline, compares every cell of FILE with the record of the same
key in DIR and prints one line per change. A number worse than the
baseline by more than its tolerance (absolute, in fractions: 0.02 is two
percentage points) is a regression: for fpr95 and detection_error higher
is worse, for auroc, aupr_in, aupr_out and accuracy lower is worse. Better
by more than the tolerance is an improvement, reported but passing. A
baseline cell with no record is an error; records not in the baseline are
listed as new. The exit status is 1 on any regression or missing cell.

Cell keys hash the configuration, so a baseline from another configuration
shows as missing cells; write a new baseline after an intended change.`,
		flags: func(fs *flag.FlagSet) runFunc {
			dir := fs.String("results", "", "results `DIR` (holding records/)")
			baseline := fs.String("baseline", "", "baseline `FILE` to compare with")
			write := fs.String("write-baseline", "", "write the results as a baseline `FILE` instead of comparing")
			mode := fs.String("mode", "", "with --write-baseline: which metrics of the records, exact (default) or paper")
			tolerance := fs.Float64("tolerance", results.DefaultTolerance, "how much worse a number may get, in fractions")
			perMetric := fs.String("metric-tolerance", "", "per-metric tolerances `METRIC=VALUE,...` (fpr95, detection_error, auroc, aupr_in, aupr_out, accuracy)")
			plan := fs.String("plan", "", "only the records of this plan `name`")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				if *dir == "" {
					return usagef("--results is required")
				}
				if (*baseline == "") == (*write == "") {
					return usagef("give exactly one of --baseline and --write-baseline")
				}
				if *baseline != "" && *mode != "" {
					return usagef("--mode applies to --write-baseline only (a baseline records its mode)")
				}
				tol, err := results.ParseTolerances(*tolerance, *perMetric)
				if err != nil {
					return usagef("%v", err)
				}
				recs, err := loadRecords(*dir, *plan)
				if err != nil {
					return err
				}
				if *write != "" {
					m := metrics.Exact
					if *mode != "" {
						if m, err = metrics.ParseMode(*mode); err != nil {
							return usagef("%v", err)
						}
					}
					b, err := results.NewBaseline(recs, m)
					if err != nil {
						return err
					}
					if err := results.WriteBaseline(*write, b); err != nil {
						return err
					}
					fmt.Fprintf(e.stderr, "mcdood compare: wrote %s: %d cells, %s metrics\n", *write, len(b.Cells), m)
					return nil
				}
				b, err := results.ReadBaseline(*baseline)
				if err != nil {
					return err
				}
				c, err := results.Compare(b, recs, tol)
				if err != nil {
					return err
				}
				if err := c.WriteText(e.stdout); err != nil {
					return err
				}
				if err := c.Err(); err != nil {
					return fmt.Errorf("%s against %s: %w", *dir, *baseline, err)
				}
				return nil
			}
		},
	})
}
