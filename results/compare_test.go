package results

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/metrics"
)

func TestBaselineRoundTrip(t *testing.T) {
	recs := records(paperLayout...)
	b, err := NewBaseline(recs, metrics.Exact)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "baseline.json")
	if err := WriteBaseline(path, b); err != nil {
		t.Fatal(err)
	}
	got, err := ReadBaseline(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Cells) != len(recs) || got.Mode != "exact" {
		t.Fatalf("read back %d cells in mode %q", len(got.Cells), got.Mode)
	}
	// Equal results pass with nothing to report.
	c, err := Compare(got, recs, Tolerances{Default: DefaultTolerance})
	if err != nil {
		t.Fatal(err)
	}
	if !c.OK() || c.Err() != nil || c.Compared != len(recs) || len(c.Improvements)+len(c.Regressions)+len(c.New) != 0 {
		t.Errorf("equal results: %+v", c)
	}
	// Paper mode needs paper metrics in every record.
	if _, err := NewBaseline(recs, metrics.Paper); err == nil || !strings.Contains(err.Error(), "no paper-mode metrics") {
		t.Errorf("paper-mode baseline without paper metrics: %v", err)
	}
}

// TestCompare plants changes in copies of the baseline's records. Numbers
// are fractions; tolerance 0.02 unless a case says otherwise.
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
			Tolerances{Default: 0.02, PerMetric: map[Metric]float64{AUROC: 0.01}}, []string{"auroc"}, nil, false},
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
			cmp, err := Compare(base, recs, c.tol)
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

func TestCompareReport(t *testing.T) {
	recs := records(paperLayout...)
	base, err := NewBaseline(recs, metrics.Exact)
	if err != nil {
		t.Fatal(err)
	}
	recs[0].Metrics.AUROC = 0.90 // msp on tinyimagenet-crop, baseline 0.9512
	recs[1].Metrics.FPR95 = 0.01 // odin, baseline 0.048: better
	extra := cell{id: "cifar10", network: "densenet-bc-100", ood: "isun", method: "msp", seed: 1}.record()
	recs = append(recs[:5], extra) // the last baseline cell is missing, one new
	c, err := Compare(base, recs, Tolerances{Default: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := c.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"FAIL: 5 cells compared (exact metrics, fractions): 1 regression, 1 improvement, 1 missing, 1 new\n",
		"regression   cifar10/densenet-bc-100/tinyimagenet-crop/msp/transductive/seed 1 auroc: 0.9512 → 0.9000, worse by 0.0512 (tolerance 0.0200)  [cifar10_densenet-bc-100_tinyimagenet-crop_msp_transductive_s1_test]\n",
		"improvement  cifar10/densenet-bc-100/tinyimagenet-crop/odin/transductive/seed 1 fpr95: 0.0480 → 0.0100, better by 0.0380",
		"missing      " + paperLayout[5].record().Key + ": in the baseline, no record in the results\n",
		"new          " + extra.Key + ": not in the baseline\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if err := c.Err(); err == nil || err.Error() != "1 regression beyond tolerance and 1 baseline cell missing from the results" {
		t.Errorf("Err() = %v", err)
	}
}

func TestParseTolerances(t *testing.T) {
	tol, err := ParseTolerances(0.02, "auroc=0.01, fpr95 = 0.05")
	if err != nil || tol.For(AUROC) != 0.01 || tol.For(FPR95) != 0.05 || tol.For(Accuracy) != 0.02 {
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

func TestReadBaselineErrors(t *testing.T) {
	cell := `{"key": "k", "id": "c", "network": "n", "ood": "o", "method": "m", "setting": "s", "seed": 1, "accuracy": 0.9,
		"metrics": {"fpr95": 0.1, "detection_error": 0.1, "auroc": 0.9, "aupr_in": 0.9, "aupr_out": 0.9}}`
	head := `{"format": "mcdood-baseline", "version": 1, "mode": "exact", "cells": [`
	cases := []struct{ name, text, want string }{
		{"not JSON", "key,auroc\n", "not a baseline file"},
		{"truncated", head + cell, "not a baseline file"},
		{"other format", `{"format": "x", "version": 1, "mode": "exact", "cells": [` + cell + `]}`, `format "x" version 1`},
		{"unknown field", `{"format": "mcdood-baseline", "version": 1, "mode": "exact", "tolerance": 1, "cells": []}`, `unknown field "tolerance"`},
		{"bad mode", `{"format": "mcdood-baseline", "version": 1, "mode": "sk", "cells": [` + cell + `]}`, `unknown metrics mode "sk"`},
		{"no cells", head + `]}`, "no cells"},
		{"duplicate", head + cell + "," + cell + `]}`, `key "k" listed twice`},
		{"percent", head + strings.Replace(cell, `"auroc": 0.9`, `"auroc": 90`, 1) + `]}`, "auroc = 90, want a fraction"},
		{"trailing", head + cell + `]} {}`, "data after the JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "b.json")
			if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadBaseline(path)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ReadBaseline: %v, want it to name %s and say %q", err, path, c.want)
			}
		})
	}
}
