package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/metrics"
	"github.com/mcdood/mcdood/results"
)

// testRecord is a hand-made record of one cell; m holds FPR95, detection
// error, AUROC, AUPR-In and AUPR-Out as fractions.
func testRecord(network, ood, method string, m [5]float64) *results.Record {
	return &results.Record{
		Key:      fmt.Sprintf("cifar10_%s_%s_%s_transductive_s1_test", network, ood, method),
		Group:    fmt.Sprintf("cifar10_%s_%s_%s_transductive_test", network, ood, method),
		Plan:     "test",
		ID:       "cifar10",
		Network:  network,
		OOD:      ood,
		Method:   method,
		Detector: method,
		Setting:  "transductive",
		Seed:     1,
		Accuracy: 0.9481,
		Metrics:  metrics.Report{FPR95: m[0], DetectionError: m[1], AUROC: m[2], AUPRIn: m[3], AUPROut: m[4]},
		CI:       &metrics.Intervals{AUROC: metrics.Interval{Low: m[2] - 0.01, High: min(m[2]+0.001, 1)}},
	}
}

// resultsDir writes records into a new results directory.
func resultsDir(t *testing.T, recs ...*results.Record) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	s, err := results.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		// A record is bound to its scores file, which comes first.
		if err := s.PutScores(r.Key, []float64{r.Metrics.AUROC, 1}, []float64{0}); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The published numbers beside these (CIFAR-10, DenseNet-BC-100, TinyImageNet
// crop): msp 34.7 FPR95 (Liang et al. Table 2), mcd 0.1 (Yu & Aizawa Table 2).
var tableRecords = []*results.Record{
	testRecord("densenet-bc-100", "tinyimagenet-crop", "msp", [5]float64{0.352, 0.1041, 0.9512, 0.9625, 0.9350}),
	testRecord("densenet-bc-100", "tinyimagenet-crop", "mcd", [5]float64{0.0034, 0.0091, 0.9981, 0.9990, 0.9975}),
}

func TestTableFormats(t *testing.T) {
	dir := resultsDir(t, tableRecords...)
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"text", nil, []string{
			"cifar10 · densenet-bc-100 · transductive\n",
			"test accuracy 94.8% (seed 1)",
			"Setting transductive: the unlabelled pool is the test set, as in the paper.",
			"│ tinyimagenet-crop │ ours  │ 35.2 /  0.3 │",
			"│                   │ paper │ 34.7 /  0.1 │",
			"│                   │ Δ     │ +0.5 / +0.2 │",
			"[1] Yu & Aizawa ICCV 2019, Table 2",
			"[2] Liang et al. ICLR 2018 (ODIN), Table 2",
		}},
		{"markdown", []string{"--format", "markdown"}, []string{
			"### cifar10 · densenet-bc-100 · transductive\n",
			"| OOD               |       | FPR@95TPR ↓<br>msp / mcd |",
			"| tinyimagenet-crop | ours  |",
		}},
		{"csv", []string{"--format", "csv"}, []string{
			"id,network,ood,method,setting,seed,accuracy,fpr95,detection_error,auroc,aupr_in,aupr_out,",
			"cifar10,densenet-bc-100,tinyimagenet-crop,msp,transductive,1,94.8100,35.2000,10.4100,95.1200,96.2500,93.5000,densenet-bc-100,liang-2018-table2,34.7,",
		}},
		{"ci", []string{"--ci"}, []string{"│                   │ CI    │", "94.1–95.2 / 98.8–99.9"}},
		{"prefer", []string{"--prefer", "yu-aizawa-2019-table2"}, []string{"│                   │ paper │    — /  0.1 │"}},
		{"plan", []string{"--plan", "test"}, []string{"cifar10 · densenet-bc-100"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, append([]string{"table", "--results", dir}, c.args...)...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestTableReferenceNetworkAndOut(t *testing.T) {
	dir := resultsDir(t, testRecord("resnet9-16", "isun", "msp", [5]float64{0.6, 0.2, 0.8, 0.8, 0.8}))
	outFile := filepath.Join(t.TempDir(), "t.md")
	// By default, as in reproduce, DenseNet-BC-100's published numbers stand beside.
	code, out, errOut := runCLI(t, nil, "table", "--results", dir, "--format", "md", "--out", outFile)
	if code != 0 || out != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	b, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "published numbers for densenet-bc-100, not resnet9-16: the comparison network differs") {
		t.Errorf("%s:\n%s", outFile, b)
	}
	// With an empty reference network: no published numbers.
	_, out, _ = runCLI(t, nil, "table", "--results", dir, "--reference-network", "")
	if !strings.Contains(out, "No published numbers for network resnet9-16.") || strings.Contains(out, "paper │") {
		t.Errorf("output:\n%s", out)
	}
}

func TestTableErrors(t *testing.T) {
	dir := resultsDir(t, tableRecords...)
	corrupt := resultsDir(t, tableRecords...)
	bad := filepath.Join(corrupt, "records", "cifar10_x.json")
	if err := os.WriteFile(bad, []byte(`{"version": 1, "key": "cifar10_x"`), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no results", nil, 2, "--results is required"},
		{"bad format", []string{"--results", dir, "--format", "html"}, 2, `unknown table format "html"`},
		{"bad mode", []string{"--results", dir, "--mode", "x"}, 2, `unknown metrics mode "x"`},
		{"bad prefer", []string{"--results", dir, "--prefer", "odin"}, 2, `unknown source "odin"`},
		{"unknown reference network", []string{"--results", dir, "--reference-network", "resnet9-16"}, 2, "the papers report densenet-bc-100 and wrn-28-10"},
		{"stray argument", []string{"--results", dir, "x"}, 2, "unexpected arguments"},
		{"typo", []string{"--results", dir + "x"}, 1, "not a results directory"},
		{"corrupt record", []string{"--results", corrupt}, 1, bad + ": truncated or corrupt record"},
		{"unknown plan", []string{"--results", dir, "--plan", "full"}, 1, `no records of plan "full" (plans there: test)`},
		{"paper mode without paper metrics", []string{"--results", dir, "--mode", "paper"}, 1, "has no paper-mode metrics"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, append([]string{"table"}, c.args...)...)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d (want %d), stderr %q, want %q", code, c.code, errOut, c.want)
			}
			if out != "" {
				t.Errorf("stdout %q on error", out)
			}
		})
	}
}

// A record edited after its run (its AUROC) is refused by table, compare
// and scores, naming the file; a version 1 record without scores (before
// digests) is shown with a note.
func TestEditedRecordRefused(t *testing.T) {
	dir := resultsDir(t, tableRecords...)
	_, baseline := compareSetup(t)
	path := filepath.Join(dir, "records", tableRecords[1].Key+".json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), `"auroc": 0.9981`, `"auroc": 0.9999`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	want := path + ": digest sha256:"
	for _, args := range [][]string{
		{"table", "--results", dir},
		{"compare", "--results", dir, "--baseline", baseline},
		{"scores", "--results", dir, "--out", t.TempDir()},
	} {
		code, out, errOut := runCLI(t, nil, args...)
		if code != 1 || out != "" || !strings.Contains(errOut, want) || !strings.Contains(errOut, "changed after the run") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 1 and %q", args[0], code, out, errOut, want)
		}
	}

	// Version 1, no digest, no scores: shown, with a note naming it.
	old := resultsDir(t, tableRecords[0])
	s, _ := results.OpenStore(old)
	rec, _ := s.RecordPath(tableRecords[0].Key)
	scores, _ := s.ScoresPath(tableRecords[0].Key)
	b, _ = os.ReadFile(rec)
	var raw map[string]any
	json.Unmarshal(b, &raw)
	raw["version"] = 1
	delete(raw, "digest")
	b, _ = json.Marshal(raw)
	os.WriteFile(rec, b, 0o644)
	os.Remove(scores)
	code, out, errOut := runCLI(t, nil, "table", "--results", old)
	if code != 0 || !strings.Contains(out, "tinyimagenet-crop") ||
		errOut != "mcdood table: note: 1 record(s) predate record digests and have no scores file, so their numbers are not checked: "+rec+"\n" {
		t.Errorf("version 1 record: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// table --out does not make missing folders.
func TestTableOutMissingFolder(t *testing.T) {
	dir := resultsDir(t, tableRecords...)
	missing := filepath.Join(t.TempDir(), "no", "such")
	code, out, errOut := runCLI(t, nil, "table", "--results", dir, "--out", filepath.Join(missing, "t.md"))
	want := "mcdood table: --out " + filepath.Join(missing, "t.md") + ": folder " + missing + " does not exist (create it first)\n"
	if code != 1 || out != "" || errOut != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
	}
	if _, err := os.Stat(filepath.Dir(missing)); err == nil {
		t.Errorf("%s was made", filepath.Dir(missing))
	}
}
