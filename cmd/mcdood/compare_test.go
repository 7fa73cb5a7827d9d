package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/results"
)

// compareSetup writes the table records to a results directory and a
// baseline of them.
func compareSetup(t *testing.T) (dir, baseline string) {
	t.Helper()
	dir = resultsDir(t, tableRecords...)
	baseline = filepath.Join(t.TempDir(), "baseline.json")
	code, out, errOut := runCLI(t, nil, "compare", "--results", dir, "--write-baseline", baseline)
	if code != 0 || out != "" || !strings.Contains(errOut, "wrote "+baseline+": 2 groups of 2 records, exact metrics") {
		t.Fatalf("write-baseline: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	return dir, baseline
}

// replace overwrites the record of key in dir after change.
func replace(t *testing.T, dir, key string, change func(r *results.Record)) {
	t.Helper()
	s, err := results.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	change(r)
	if err := s.Put(r); err != nil {
		t.Fatal(err)
	}
}

func TestCompareEqualPasses(t *testing.T) {
	dir, baseline := compareSetup(t)
	code, out, errOut := runCLI(t, nil, "compare", "--results", dir, "--baseline", baseline)
	if code != 0 || !strings.HasPrefix(out, "PASS: 2 records compared (exact metrics, fractions; margin max(4·std, floor)): 0 regressions, 0 improvements, 0 missing, 0 new\n") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestComparePlantedRegressionFails(t *testing.T) {
	dir, baseline := compareSetup(t)
	key := tableRecords[1].Key // mcd: AUROC 0.9981
	replace(t, dir, key, func(r *results.Record) { r.Metrics.AUROC = 0.95 })
	code, out, errOut := runCLI(t, nil, "compare", "--results", dir, "--baseline", baseline)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	want := "regression   cifar10/densenet-bc-100/tinyimagenet-crop/mcd/transductive/seed 1 auroc: 0.9500, worse by 0.0481 than the baseline's 0.9981 ± 0.0000 (n 1; margin 0.0200)  [" + key + "]\n"
	if !strings.HasPrefix(out, "FAIL: 2 records compared") || !strings.Contains(out, want) {
		t.Errorf("stdout lacks %q:\n%s", want, out)
	}
	if !strings.Contains(errOut, "mcdood compare: "+dir+" against "+baseline+": 1 regression beyond the baseline's spread") {
		t.Errorf("stderr %q", errOut)
	}
	// A looser AUROC tolerance lets it pass.
	code, _, errOut = runCLI(t, nil, "compare", "--results", dir, "--baseline", baseline, "--metric-tolerance", "auroc=0.05")
	if code != 0 {
		t.Errorf("with auroc=0.05: exit %d, stderr %q", code, errOut)
	}
}

func TestCompareImprovementPasses(t *testing.T) {
	dir, baseline := compareSetup(t)
	replace(t, dir, tableRecords[0].Key, func(r *results.Record) { r.Metrics.FPR95 = 0.20 }) // msp: 0.352 → 0.20
	code, out, errOut := runCLI(t, nil, "compare", "--results", dir, "--baseline", baseline)
	if code != 0 || !strings.Contains(out, "1 improvement") ||
		!strings.Contains(out, "improvement  cifar10/densenet-bc-100/tinyimagenet-crop/msp/transductive/seed 1 fpr95: 0.2000, better by 0.1520 than the baseline's 0.3520") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestCompareMissingCellFails(t *testing.T) {
	dir, baseline := compareSetup(t)
	if err := os.Remove(filepath.Join(dir, "records", tableRecords[0].Key+".json")); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, nil, "compare", "--results", dir, "--baseline", baseline)
	if code != 1 || !strings.Contains(out, "missing      "+tableRecords[0].Group) || !strings.Contains(errOut, "1 baseline group missing") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// --partial: a run of part of the cells passes with the rest not run, but
// still fails on a regression, and on an empty results folder.
func TestComparePartial(t *testing.T) {
	dir, baseline := compareSetup(t)
	if err := os.Remove(filepath.Join(dir, "records", tableRecords[0].Key+".json")); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, nil, "compare", "--partial", "--results", dir, "--baseline", baseline)
	if code != 0 || !strings.HasPrefix(out, "PASS: 1 records compared") || !strings.Contains(out, "1 not run, 0 new") || !strings.Contains(out, "not run      "+tableRecords[0].Group) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	replace(t, dir, tableRecords[1].Key, func(r *results.Record) { r.Metrics.AUROC = 0.95 })
	if code, out, _ := runCLI(t, nil, "compare", "--partial", "--results", dir, "--baseline", baseline); code != 1 || !strings.Contains(out, "regression") {
		t.Errorf("a regression in a partial run: exit %d, stdout %q", code, out)
	}
	if err := os.Remove(filepath.Join(dir, "records", tableRecords[1].Key+".json")); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, nil, "compare", "--partial", "--results", dir, "--baseline", baseline)
	if code != 1 || !strings.Contains(errOut, "no records") {
		t.Errorf("an empty partial run: exit %d, stderr %q", code, errOut)
	}
}

// Several --results directories are draws of one baseline: the same cells
// run twice (as on two kernel paths) make groups of two.
func TestCompareSeveralResults(t *testing.T) {
	a, b := resultsDir(t, tableRecords...), resultsDir(t, tableRecords...)
	replace(t, b, tableRecords[1].Key, func(r *results.Record) { r.Metrics.AUROC = 0.9961; r.Started = r.Started.Add(1) })
	replace(t, b, tableRecords[0].Key, func(r *results.Record) { r.Started = r.Started.Add(1) })
	baseline := filepath.Join(t.TempDir(), "baseline.json")
	code, _, errOut := runCLI(t, nil, "compare", "--results", a, "--results", b, "--write-baseline", baseline)
	if code != 0 || !strings.Contains(errOut, "2 groups of 4 records") {
		t.Fatalf("write-baseline: exit %d, stderr %q", code, errOut)
	}
	bl, err := results.ReadBaseline(baseline)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range bl.Groups {
		if g.N != 2 {
			t.Errorf("group %s: n = %d, want 2", g.Group, g.N)
		}
	}
	// mcd's AUROC: mean 0.9971, std 0.0014; 0.9 is far below any margin.
	replace(t, a, tableRecords[1].Key, func(r *results.Record) { r.Metrics.AUROC = 0.9 })
	code, out, _ := runCLI(t, nil, "compare", "--results", a, "--baseline", baseline)
	if code != 1 || !strings.Contains(out, "auroc: 0.9000, worse by 0.0971 than the baseline's 0.9971 ± 0.0014 (n 2; margin 0.0200)") {
		t.Errorf("exit %d, stdout %s", code, out)
	}
}

func TestCompareUsage(t *testing.T) {
	dir, baseline := compareSetup(t)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"neither", []string{"--results", dir}, 2, "exactly one of --baseline and --write-baseline"},
		{"both", []string{"--results", dir, "--baseline", baseline, "--write-baseline", "x"}, 2, "exactly one of"},
		{"no results", []string{"--baseline", baseline}, 2, "--results is required"},
		{"mode with baseline", []string{"--results", dir, "--baseline", baseline, "--mode", "paper"}, 2, "--mode and --convention apply to --write-baseline"},
		{"convention with baseline", []string{"--results", dir, "--baseline", baseline, "--convention", "ood-positive"}, 2, "--mode and --convention apply to --write-baseline"},
		{"paper ood-positive", []string{"--results", dir, "--write-baseline", baseline + "3", "--mode", "paper", "--convention", "ood-positive"}, 2, "has no OOD-positive FPR@95"},
		{"bad metric tolerance", []string{"--results", dir, "--baseline", baseline, "--metric-tolerance", "auc=0.1"}, 2, `unknown metric "auc"`},
		{"bad tolerance", []string{"--results", dir, "--baseline", baseline, "--tolerance", "5"}, 2, "tolerance 5 outside [0, 1]"},
		{"bad k", []string{"--results", dir, "--baseline", baseline, "--k", "0"}, 2, "--k 0: want > 0"},
		{"missing baseline", []string{"--results", dir, "--baseline", baseline + ".no"}, 1, baseline + ".no"},
		{"paper baseline without paper metrics", []string{"--results", dir, "--write-baseline", baseline + "2", "--mode", "paper"}, 1, "no paper-mode metrics"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, nil, append([]string{"compare"}, c.args...)...)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d (want %d), stderr %q, want %q", code, c.code, errOut, c.want)
			}
		})
	}
}
