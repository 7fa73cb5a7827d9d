package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/results"
)

// mcdood scores exports a record's scores; mcdood metrics --scores reads
// them back (.npz and .csv) and gives the numbers of the scores themselves,
// in both conventions.
func TestScoresExportAndMetrics(t *testing.T) {
	dir := resultsDir(t, tableRecords...)
	s, err := results.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	// hand-unequal of metrics/testdata: ID-positive FPR95 2/3, OOD-positive
	// (scikit-learn, as OpenOOD) 0.75, AUROC 0.7916666666666666.
	if err := s.PutScores(tableRecords[1].Key, []float64{3, 2, 2, 1}, []float64{2, 1, 0}); err != nil {
		t.Fatal(err)
	}
	// The record is bound to its scores: written again after them.
	mcd, err := s.Get(tableRecords[1].Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(mcd); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "export")
	code, stdout, stderr := runCLI(t, nil, "scores", "--results", dir, "--method", "mcd", "--out", out)
	if code != 0 || !strings.Contains(stdout, tableRecords[1].Key+": ") {
		t.Fatalf("scores: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	name, _ := results.FileName(tableRecords[1].Key)
	for _, c := range []struct {
		convention, fpr95 string
	}{{"id-positive", `"fpr95": 0.6666666666666666`}, {"ood-positive", `"fpr95": 0.75`}} {
		for _, ext := range []string{".npz", ".csv"} {
			code, stdout, stderr := runCLI(t, nil, "metrics", "--scores", filepath.Join(out, name+ext), "--convention", c.convention, "--format", "json")
			if code != 0 || !strings.Contains(stdout, c.fpr95) || !strings.Contains(stdout, `"auroc": 0.7916666666666666`) {
				t.Errorf("metrics %s %s: exit %d, %s %s", ext, c.convention, code, stdout, stderr)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(out, name+".json")); err != nil {
		t.Error(err)
	}
	// Nothing matches, bad usage.
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"scores", "--results", dir, "--ood", "isun", "--out", out}, 1, "no record matches"},
		{[]string{"scores", "--results", dir, "--key", "k", "--ood", "isun", "--out", out}, 2, "--key, or filters"},
		{[]string{"metrics", "--scores", "x.txt"}, 1, "reads .npz or .csv"},
		{[]string{"metrics", "--scores", filepath.Join(out, name+".npz"), "--id", "a"}, 2, "not both"},
		{[]string{"metrics", "--id", "a", "--ood", "b", "--mode", "paper", "--convention", "ood-positive"}, 2, "has no OOD-positive FPR@95"},
	} {
		code, _, stderr := runCLI(t, nil, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
	// A record without its scores file is refused, by name.
	msp, _ := s.RecordPath(tableRecords[0].Key)
	scores, _ := s.ScoresPath(tableRecords[0].Key)
	os.Remove(scores)
	code, _, stderr = runCLI(t, nil, "scores", "--results", dir, "--method", "msp", "--out", out)
	if want := msp + ": no scores file " + scores; code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("without scores: exit %d, stderr %q; want %q", code, stderr, want)
	}
}
