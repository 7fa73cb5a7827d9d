package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/mcdood/mcdood/internal/atomicfile"
	"github.com/mcdood/mcdood/metrics"
	"github.com/mcdood/mcdood/results"
)

func init() {
	register(&command{
		name:    "table",
		order:   60,
		summary: "print the paper's tables from stored records, our numbers beside the published ones",
		usage:   "--results DIR [--format text|markdown|csv] [--ci] [--reference-network NAME] [--out FILE]",
		help: `
Re-renders the tables from the records in DIR/records (written by a run),
one table per in-distribution set, network and setting, as in Yu & Aizawa
(ICCV 2019), Table 2: a row per OOD set, a column per metric, each cell
holding the methods' values as "msp / odin / mcd", in percent. Under our
row, "paper" gives the published number and "Δ" ours − paper; the notes
name each published number's source.

Both papers publish an "odin" row for DenseNet-BC-100: by default the MCD
paper's re-run on a two-head network is shown and the ODIN paper's own
where the MCD paper has none; --prefer changes the order (sources:
yu-aizawa-2019-table2, liang-2018-table2, yu-aizawa-2019-table1).

Networks the papers do not report (resnet9-16, small) are shown beside the
published numbers of --reference-network (densenet-bc-100, as reproduce
does, or wrn-28-10; "" for none); the title then says the comparison
network differs.

--format csv writes one row per record (cell and seed) with the columns
id, network, ood, method, setting, seed, accuracy, fpr95, detection_error,
auroc, aupr_in, aupr_out (percent), the interval bounds with --ci, and the
published numbers as paper_* columns.`,
		flags: func(fs *flag.FlagSet) runFunc {
			f := &tableFlags{}
			fs.StringVar(&f.dir, "results", "", "results `DIR` (holding records/)")
			fs.StringVar(&f.format, "format", "text", "output format: text, markdown or csv")
			fs.BoolVar(&f.ci, "ci", false, "show the records' bootstrap intervals")
			fs.StringVar(&f.refNet, "reference-network", "densenet-bc-100", "compare networks the papers do not report with this `network`'s published numbers (\"\" for none)")
			fs.StringVar(&f.mode, "mode", "exact", "which metrics of the records: exact, or paper (the MCD authors' test.py)")
			fs.StringVar(&f.convention, "convention", "id-positive", "FPR@95's positive class: id-positive (ODIN, the MCD paper) or ood-positive (OpenOOD)")
			fs.StringVar(&f.prefer, "prefer", "", "comma-separated order of the `sources` of published numbers (default yu-aizawa-2019-table2,liang-2018-table2,yu-aizawa-2019-table1)")
			fs.StringVar(&f.plan, "plan", "", "only the records of this plan `name`")
			fs.StringVar(&f.out, "out", "", "write to `FILE` (atomically) instead of standard output")
			fs.StringVar(&f.metrics, "metrics", "", "only these `metrics` as columns of the text and Markdown tables, comma-separated (fpr95, detection_error, auroc, aupr_in, aupr_out; default all)")
			return noArgs(func(ctx context.Context, e *env) error { return runTable(e, *f) })
		},
	})
}

// tableFlags are the flags of "mcdood table".
type tableFlags struct {
	dir, format, refNet, mode, convention, prefer, plan, out, metrics string
	ci                                                                bool
}

// options reads the flags into the table's options.
func (f tableFlags) options() (results.TableOptions, error) {
	opts := results.TableOptions{CI: f.ci, ReferenceNetwork: f.refNet}
	var err error
	if opts.Mode, err = parseModeConvention(f.mode, f.convention); err != nil {
		return opts, usagef("%v", err)
	}
	if f.prefer != "" {
		if opts.Prefer, err = results.ParseSources(f.prefer); err != nil {
			return opts, usagef("--prefer: %v", err)
		}
	}
	if f.metrics != "" {
		for _, name := range strings.Split(f.metrics, ",") {
			m, err := metrics.ParseMetric(strings.TrimSpace(name))
			if err != nil {
				return opts, usagef("--metrics: %v", err)
			}
			opts.Metrics = append(opts.Metrics, m)
		}
	}
	if f.refNet != "" && !results.HasReferenceNetwork(f.refNet) {
		return opts, usagef("--reference-network %q: the papers report densenet-bc-100 and wrn-28-10", f.refNet)
	}
	return opts, nil
}

// runTable renders the records of --results as the paper's tables.
func runTable(e *env, f tableFlags) error {
	if f.dir == "" {
		return usagef("--results is required")
	}
	format, err := results.ParseFormat(f.format)
	if err != nil {
		return usagef("%v", err)
	}
	opts, err := f.options()
	if err != nil {
		return err
	}
	if f.out != "" {
		if err := results.CheckOutFolder(f.out); err != nil {
			return fmt.Errorf("--out %s: %w", f.out, err)
		}
	}
	recs, err := loadRecords(e, "table", f.dir, f.plan)
	if err != nil {
		return err
	}
	tab, err := results.BuildTable(recs, opts)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := tab.Write(&b, format); err != nil {
		return err
	}
	if f.out != "" {
		return atomicfile.WriteFile(f.out, b.Bytes(), 0o644)
	}
	_, err = e.stdout.Write(b.Bytes())
	return err
}

// loadRecords reads the records of dir (of plan, when not ""), noting on
// standard error the ones that could not be checked against their scores.
func loadRecords(e *env, cmd, dir, plan string) ([]*results.Record, error) {
	recs, unverified, err := results.LoadRecords(dir, plan)
	noteUnverified(e, cmd, unverified)
	return recs, err
}

// noteUnverified prints results.UnverifiedNote, if any, as "mcdood CMD: note: …".
func noteUnverified(e *env, cmd string, files []string) {
	if note := results.UnverifiedNote(files); note != "" {
		fmt.Fprintf(e.stderr, "mcdood %s: %s\n", cmd, note)
	}
}
