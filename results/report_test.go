package results

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestWriteReport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	recs := records(paperLayout...)
	for k, r := range recs {
		if k == len(recs)-1 {
			continue // the last record has no scores: no plots, a log line
		}
		if err := s.PutScores(r.Key, gaussians(uint64(k), 50, 1, 1), gaussians(uint64(k+10), 40, 0, 1)); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	if err := WriteReport(dir, recs, ReportOptions{Plot: PlotOptions{Width: 160, Height: 120}, Log: log}); err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, sub := range []string{TablesDir, PlotsDir} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			files = append(files, sub+"/"+e.Name())
		}
	}
	want := []string{
		"tables/tables.csv", "tables/tables.md", "tables/tables.txt",
		"plots/hist_" + recs[0].Key + ".png", "plots/hist_" + recs[1].Key + ".png", "plots/hist_" + recs[2].Key + ".png",
		"plots/hist_" + recs[3].Key + ".png", "plots/hist_" + recs[4].Key + ".png",
		"plots/roc_cifar10_densenet-bc-100_gaussian_transductive_s1.png",
		"plots/roc_cifar10_densenet-bc-100_tinyimagenet-crop_transductive_s1.png",
	}
	slices.Sort(want)
	slices.Sort(files)
	if !slices.Equal(files, want) {
		t.Errorf("files\n%q\nwant\n%q", files, want)
	}
	if !strings.Contains(logged.String(), "no stored scores") || !strings.Contains(logged.String(), recs[5].Key) {
		t.Errorf("log %q does not name the record without scores", logged.String())
	}
	text, _ := os.ReadFile(filepath.Join(dir, TablesDir, "tables.txt"))
	golden(t, "paper-layout.txt.golden", text) // the same projection as TestTableGolden
}

func TestWriteReportErrors(t *testing.T) {
	dir := t.TempDir()
	if err := WriteReport(dir, nil, ReportOptions{}); err == nil {
		t.Error("no records accepted")
	}
	s, _ := OpenStore(dir)
	r := records(paperLayout[0])[0]
	path, _ := s.ScoresPath(r.Key)
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte("MCDSCORE but broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteReport(dir, []*Record{r}, ReportOptions{}); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("corrupt scores: %v, want an error naming %s", err, path)
	}
}
