package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mcdood/mcdood/internal/atomicfile"
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
			dir := fs.String("results", "", "results `DIR` (holding records/)")
			format := fs.String("format", "text", "output format: text, markdown or csv")
			ci := fs.Bool("ci", false, "show the records' bootstrap intervals")
			refNet := fs.String("reference-network", "densenet-bc-100", "compare networks the papers do not report with this `network`'s published numbers (\"\" for none)")
			mode := fs.String("mode", "exact", "which metrics of the records: exact, or paper (the MCD authors' test.py)")
			convention := fs.String("convention", "id-positive", "FPR@95's positive class: id-positive (ODIN, the MCD paper) or ood-positive (OpenOOD)")
			prefer := fs.String("prefer", "", "comma-separated order of the `sources` of published numbers (default yu-aizawa-2019-table2,liang-2018-table2,yu-aizawa-2019-table1)")
			plan := fs.String("plan", "", "only the records of this plan `name`")
			out := fs.String("out", "", "write to `FILE` (atomically) instead of standard output")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				if *dir == "" {
					return usagef("--results is required")
				}
				f, err := results.ParseFormat(*format)
				if err != nil {
					return usagef("%v", err)
				}
				opts := results.TableOptions{CI: *ci, ReferenceNetwork: *refNet}
				if opts.Mode, err = parseModeConvention(*mode, *convention); err != nil {
					return usagef("%v", err)
				}
				if *prefer != "" {
					if opts.Prefer, err = results.ParseSources(*prefer); err != nil {
						return usagef("--prefer: %v", err)
					}
				}
				if *refNet != "" && !results.HasReferenceNetwork(*refNet) {
					return usagef("--reference-network %q: the papers report densenet-bc-100 and wrn-28-10", *refNet)
				}
				if *out != "" {
					if err := checkOutFile(*out); err != nil {
						return err
					}
				}
				recs, err := loadRecords(e, "table", *dir, *plan)
				if err != nil {
					return err
				}
				tab, err := results.BuildTable(recs, opts)
				if err != nil {
					return err
				}
				var b bytes.Buffer
				if err := tab.Write(&b, f); err != nil {
					return err
				}
				if *out != "" {
					return atomicfile.WriteFile(*out, b.Bytes(), 0o644)
				}
				_, err = e.stdout.Write(b.Bytes())
				return err
			}
		},
	})
}

// checkOutFile checks that the folder of an --out file exists (and is a
// folder), so that a mistyped path is an error, not a new folder tree.
func checkOutFile(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("--out %s: folder %s does not exist (create it first)", path, dir)
	case err != nil:
		return fmt.Errorf("--out %s: %w", path, err)
	case !fi.IsDir():
		return fmt.Errorf("--out %s: %s is not a folder", path, dir)
	}
	return nil
}

// loadRecords reads the records of a results directory, checked against
// their scores, only those of plan when it is not empty; records that could
// not be checked get a note on standard error. No records is an error.
func loadRecords(e *env, cmd, dir, plan string) ([]*results.Record, error) {
	all, unverified, err := results.ReadRecords(dir)
	if err != nil {
		return nil, err
	}
	noteUnverified(e, cmd, unverified)
	if len(all) == 0 {
		return nil, fmt.Errorf("%s: no records", dir)
	}
	if plan == "" {
		return all, nil
	}
	var recs []*results.Record
	var plans []string
	for _, r := range all {
		if r.Plan == plan {
			recs = append(recs, r)
		}
		if !slices.Contains(plans, r.Plan) {
			plans = append(plans, r.Plan)
		}
	}
	if len(recs) == 0 {
		slices.Sort(plans)
		return nil, fmt.Errorf("%s: no records of plan %q (plans there: %s)", dir, plan, strings.Join(plans, ", "))
	}
	return recs, nil
}

// noteUnverified tells which records could not be checked against their
// scores.
func noteUnverified(e *env, cmd string, files []string) {
	if len(files) == 0 {
		return
	}
	const shown = 3
	list := strings.Join(files[:min(len(files), shown)], ", ")
	if len(files) > shown {
		list += fmt.Sprintf(" and %d more", len(files)-shown)
	}
	fmt.Fprintf(e.stderr, "mcdood %s: note: %d record(s) predate record digests and have no scores file, so their numbers are not checked: %s\n",
		cmd, len(files), list)
}
