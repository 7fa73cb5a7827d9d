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
			dir := fs.String("results", "", "results `DIR` (holding records/ and scores/)")
			key := fs.String("key", "", "the record with this `key`")
			var filter struct{ id, network, ood, method, setting string }
			fs.StringVar(&filter.id, "id", "", "only records of this ID `set`")
			fs.StringVar(&filter.network, "network", "", "only records of this `network`")
			fs.StringVar(&filter.ood, "ood", "", "only records of this OOD `set`")
			fs.StringVar(&filter.method, "method", "", "only records of this `method`")
			fs.StringVar(&filter.setting, "setting", "", "only records of this `setting`")
			seed := fs.Int64("seed", -1, "only records of this `seed`")
			out := fs.String("out", "", "write the files into `DIR`")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected arguments %q", args)
				}
				if *dir == "" || *out == "" {
					return usagef("--results and --out are required")
				}
				filtered := filter.id != "" || filter.network != "" || filter.ood != "" || filter.method != "" || filter.setting != "" || *seed >= 0
				if *key != "" && filtered {
					return usagef("give --key, or filters, not both")
				}
				recs, unverified, err := results.ReadRecords(*dir)
				if err != nil {
					return err
				}
				noteUnverified(e, "scores", unverified)
				store, err := results.OpenStore(*dir)
				if err != nil {
					return err
				}
				match := func(want, got string) bool { return want == "" || want == got }
				n := 0
				for _, r := range recs {
					if *key != "" && r.Key != *key {
						continue
					}
					if !match(filter.id, r.ID) || !match(filter.network, r.Network) || !match(filter.ood, r.OOD) ||
						!match(filter.method, r.Method) || !match(filter.setting, r.Setting) || (*seed >= 0 && uint64(*seed) != r.Seed) {
						continue
					}
					files, err := results.ExportScores(store, r, *out)
					if err != nil {
						return fmt.Errorf("%s: %w", r.Key, err)
					}
					fmt.Fprintf(e.stdout, "%s: %s\n", r.Key, strings.Join(files, " "))
					n++
				}
				if n == 0 {
					return fmt.Errorf("%s: no record matches", *dir)
				}
				return nil
			}
		},
	})
}
