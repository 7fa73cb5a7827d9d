package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/mcdood/mcdood/results"
)

func init() {
	register(&command{
		name:    "scores",
		order:   65,
		summary: "export cells' per-image test scores for numpy, pandas and scikit-learn",
		usage:   "--results DIR (--key KEY | [--id S] [--network N] [--ood O] [--method M] [--setting S] [--seed N]) --out DIR",
		help: `For every record of DIR that matches — by its key, or by the fields
given — writes three files named after the record into --out:

  NAME.npz   id and ood, float64 arrays:    d = np.load("NAME.npz"); d["id"], d["ood"]
  NAME.csv   a row per image, set,score:     df = pd.read_csv("NAME.csv")
  NAME.json  the cell and its metrics

Scores are the detector's, higher meaning more in-distribution (MCD's is the
negated discrepancy), exactly as stored: scikit-learn recomputes the
record's numbers from them, for example
  roc_auc_score(np.r_[np.ones(len(d["id"])), np.zeros(len(d["ood"]))], np.r_[d["id"], d["ood"]]).
mcdood metrics --scores NAME.npz (or NAME.csv) reads them back.`,
		flags: func(fs *flag.FlagSet) runFunc {
			f := &scoresFlags{}
			fs.StringVar(&f.dir, "results", "", "results `DIR` (holding records/ and scores/)")
			fs.StringVar(&f.filter.Key, "key", "", "the record with this `key`")
			fs.StringVar(&f.filter.ID, "id", "", "only records of this ID `set`")
			fs.StringVar(&f.filter.Network, "network", "", "only records of this `network`")
			fs.StringVar(&f.filter.OOD, "ood", "", "only records of this OOD `set`")
			fs.StringVar(&f.filter.Method, "method", "", "only records of this `method`")
			fs.StringVar(&f.filter.Setting, "setting", "", "only records of this `setting`")
			fs.Int64Var(&f.filter.Seed, "seed", -1, "only records of this `seed`")
			fs.StringVar(&f.out, "out", "", "write the files into `DIR`")
			return noArgs(func(ctx context.Context, e *env) error { return runScores(e, *f) })
		},
	})
}

// scoresFlags are the flags of "mcdood scores".
type scoresFlags struct {
	dir, out string
	filter   results.RecordFilter
}

// runScores exports the scores of every record the flags choose.
func runScores(e *env, f scoresFlags) error {
	if f.dir == "" || f.out == "" {
		return usagef("--results and --out are required")
	}
	if f.filter.Key != "" && f.filter.Fields() {
		return usagef("give --key, or filters, not both")
	}
	recs, unverified, err := results.ReadRecords(f.dir)
	if err != nil {
		return err
	}
	noteUnverified(e, "scores", unverified)
	store, err := results.OpenStore(f.dir)
	if err != nil {
		return err
	}
	n := 0
	for _, r := range recs {
		if !f.filter.Match(r) {
			continue
		}
		files, err := results.ExportScores(store, r, f.out)
		if err != nil {
			return fmt.Errorf("%s: %w", r.Key, err)
		}
		fmt.Fprintf(e.stdout, "%s: %s\n", r.Key, strings.Join(files, " "))
		n++
	}
	if n == 0 {
		return fmt.Errorf("%s: no record matches", f.dir)
	}
	return nil
}
