package results

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/metrics"
)

// TestCompare plants changes in copies of the baseline's records. Every
// group has one draw (std 0), so the margin is the floor. Numbers are
// fractions; floor 0.02 unless a case says otherwise.
func TestCompare(t *testing.T) {
	base, err := NewBaseline(records(paperLayout...), metrics.Exact)
	if err != nil {
		t.Fatal(err)
	}
	target := paperLayout[2].record().Key // mcd on tinyimagenet-crop: AUROC 0.9981, FPR95 0.0034, accuracy 0.9481
	cases := []struct {
		name         string
		change       func(r *Record)
		tol          Tolerances
		regressions  []string // "metric" of each regression
		improvements []string
		ok           bool
	}{
		{"AUROC drops 0.05", func(r *Record) { r.Metrics.AUROC -= 0.05 }, Tolerances{Default: 0.02}, []string{"auroc"}, nil, false},
		{"FPR95 rises 0.03", func(r *Record) { r.Metrics.FPR95 += 0.03 }, Tolerances{Default: 0.02}, []string{"fpr95"}, nil, false},
		{"accuracy drops", func(r *Record) { r.Accuracy -= 0.021 }, Tolerances{Default: 0.02}, []string{"accuracy"}, nil, false},
		{"within tolerance", func(r *Record) { r.Metrics.AUROC -= 0.019; r.Metrics.DetectionError += 0.02 }, Tolerances{Default: 0.02}, nil, nil, true},
		{"per-metric tolerance", func(r *Record) { r.Metrics.AUROC -= 0.015 },
			Tolerances{Default: 0.02, PerMetric: map[metrics.Metric]float64{metrics.AUROC: 0.01}}, []string{"auroc"}, nil, false},
		// FPR95 down and AUPR-Out up are improvements: reported, passing.
		{"improvement", func(r *Record) { r.Metrics.FPR95 -= 0.0034; r.Metrics.AUPROut += 0.0025 },
			Tolerances{Default: 0.001}, nil, []string{"fpr95", "aupr_out"}, true},
		{"both", func(r *Record) { r.Metrics.FPR95 += 0.1; r.Metrics.AUROC += 0.001 },
			Tolerances{Default: 0.0005}, []string{"fpr95"}, []string{"auroc"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs := records(paperLayout...)
			for _, r := range recs {
				if r.Key == target {
					c.change(r)
				}
			}
			cmp, err := Compare(base, recs, CompareOptions{Floor: c.tol})
			if err != nil {
				t.Fatal(err)
			}
			names := func(chs []Change) []string {
				var out []string
				for _, ch := range chs {
					if ch.Key != target {
						t.Errorf("change in untouched cell %s", ch.Key)
					}
					out = append(out, string(ch.Metric))
				}
				return out
			}
			if got := names(cmp.Regressions); strings.Join(got, ",") != strings.Join(c.regressions, ",") {
				t.Errorf("regressions %v, want %v", got, c.regressions)
			}
			if got := names(cmp.Improvements); strings.Join(got, ",") != strings.Join(c.improvements, ",") {
				t.Errorf("improvements %v, want %v", got, c.improvements)
			}
			if cmp.OK() != c.ok {
				t.Errorf("OK = %v, want %v", cmp.OK(), c.ok)
			}
		})
	}
}

// A partial comparison passes with groups not run, unless nothing of the
// baseline was compared; a full one fails on any missing group.
func TestComparePartialNeedsARecord(t *testing.T) {
	base, err := NewBaseline(records(paperLayout...), metrics.Exact)
	if err != nil {
		t.Fatal(err)
	}
	some := records(paperLayout[:1]...)
	for _, c := range []struct {
		recs    []*Record
		partial bool
		ok      bool
	}{{some, false, false}, {some, true, true}, {nil, true, false}} {
		cmp, err := Compare(base, c.recs, CompareOptions{Partial: c.partial})
		if err != nil {
			t.Fatal(err)
		}
		if cmp.OK() != c.ok || (cmp.Err() == nil) != c.ok {
			t.Errorf("%d records, partial %v: OK %v, Err %v; want OK %v", len(c.recs), c.partial, cmp.OK(), cmp.Err(), c.ok)
		}
	}
}

// TestCompareSpread checks the margin max(k·std, floor) on a group of three
// seeds with AUROC 0.90, 0.92 and 0.94: mean 0.92, sample std 0.02.
func TestCompareSpread(t *testing.T) {
	var draws []*Record
	for k, auroc := range []float64{0.90, 0.92, 0.94} {
		c := paperLayout[2] // mcd on tinyimagenet-crop
		c.seed, c.m[2] = uint64(k+1), auroc
		draws = append(draws, c.record())
	}
	base, err := NewBaseline(draws, metrics.Exact)
	if err != nil {
		t.Fatal(err)
	}
	g := base.Groups[0]
	if len(base.Groups) != 1 || g.N != 3 || math.Abs(g.Mean.AUROC-0.92) > 1e-12 || math.Abs(g.Std.AUROC-0.02) > 1e-12 || g.Std.FPR95 != 0 {
		t.Fatalf("groups %+v", base.Groups)
	}
	cases := []struct {
		auroc   float64
		k, tol  float64
		verdict string // "" inside, "regression" or "improvement"
	}{
		{0.85, 4, 0.02, ""},            // 0.07 below, margin 4·0.02 = 0.08
		{0.83, 4, 0.02, "regression"},  // 0.09 below
		{0.83, 4, 0.10, ""},            // the floor 0.10 is the margin
		{0.87, 2, 0.02, "regression"},  // 0.05 below, margin 0.04
		{0.97, 1, 0.02, "improvement"}, // 0.05 above, margin 0.02
		{0.92 - 0.08, 4, 0.02, ""},     // exactly the margin passes
		{math.NaN(), 4, 0.02, "regression"},
	}
	for _, c := range cases {
		r := draws[0]
		changed := *r
		changed.Seed, changed.Key, changed.Metrics.AUROC = 9, "seed-9", c.auroc
		cmp, err := Compare(base, []*Record{&changed}, CompareOptions{K: c.k, Floor: Tolerances{Default: c.tol}})
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		switch {
		case len(cmp.Regressions) == 1 && cmp.Regressions[0].Metric == metrics.AUROC:
			got = "regression"
		case len(cmp.Improvements) == 1 && cmp.Improvements[0].Metric == metrics.AUROC:
			got = "improvement"
		}
		others := len(cmp.Regressions) + len(cmp.Improvements)
		if got != "" {
			others--
		}
		if got != c.verdict || others != 0 || cmp.OK() != (got != "regression") || cmp.Compared != 1 {
			t.Errorf("AUROC %v, k %v, floor %v: %q (%+v), want %q", c.auroc, c.k, c.tol, got, cmp, c.verdict)
		}
	}
}

func TestCompareReport(t *testing.T) {
	recs := records(paperLayout...)
	base, err := NewBaseline(recs, metrics.Exact)
	if err != nil {
		t.Fatal(err)
	}
	recs[0].Metrics.AUROC = 0.90 // msp on tinyimagenet-crop, baseline 0.9512
	recs[1].Metrics.FPR95 = 0.01 // odin, baseline 0.048: better
	extra := cell{id: "cifar10", network: "densenet-bc-100", ood: "isun", method: "msp", seed: 1}.record()
	recs = append(recs[:5], extra) // the last baseline group is missing, one new
	c, err := Compare(base, recs, CompareOptions{Floor: Tolerances{Default: 0.02}})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := c.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"FAIL: 5 records compared (exact metrics, fractions; margin max(4·std, floor)): 1 regression, 1 improvement, 1 missing, 1 new\n",
		"regression   cifar10/densenet-bc-100/tinyimagenet-crop/msp/transductive/seed 1 auroc: 0.9000, worse by 0.0512 than the baseline's 0.9512 ± 0.0000 (n 1; margin 0.0200)  [cifar10_densenet-bc-100_tinyimagenet-crop_msp_transductive_s1_test]\n",
		"improvement  cifar10/densenet-bc-100/tinyimagenet-crop/odin/transductive/seed 1 fpr95: 0.0100, better by 0.0380 than the baseline's 0.0480",
		"missing      " + paperLayout[5].record().Group + ": in the baseline, no record in the results\n",
		"new          " + extra.Key + ": its group is not in the baseline\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if err := c.Err(); err == nil || err.Error() != "1 regression beyond the baseline's spread and 1 baseline group missing from the results" {
		t.Errorf("Err() = %v", err)
	}
}

func TestParseTolerances(t *testing.T) {
	tol, err := ParseTolerances(0.02, "auroc=0.01, fpr95 = 0.05")
	if err != nil || tol.For(metrics.AUROC) != 0.01 || tol.For(metrics.FPR95) != 0.05 || tol.For(metrics.Accuracy) != 0.02 {
		t.Errorf("ParseTolerances = %+v, %v", tol, err)
	}
	for _, bad := range []string{"auroc", "auc=0.1", "auroc=x", "auroc=2", "auroc=0.1,auroc=0.2"} {
		if _, err := ParseTolerances(0.02, bad); err == nil {
			t.Errorf("ParseTolerances(%q) accepted", bad)
		}
	}
	if _, err := ParseTolerances(-1, ""); err == nil {
		t.Error("negative default accepted")
	}
}
