package results

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcdood/mcdood/metrics"
)

// update rewrites the golden files: go test ./results -run Golden -update
var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// cell describes a hand-made record: its cell, the accuracy and the five
// metrics as fractions (fpr95, detection error, AUROC, AUPR-In, AUPR-Out).
type cell struct {
	id, network, ood, method, setting string
	seed                              uint64
	accuracy                          float64
	m                                 [5]float64
}

// record builds a Record from c with fixed provenance, so that files are
// reproducible.
func (c cell) record() *Record {
	setting := c.setting
	if setting == "" {
		setting = "transductive"
	}
	return &Record{
		Version:  RecordVersion,
		Key:      fmt.Sprintf("%s_%s_%s_%s_%s_s%d_test", c.id, c.network, c.ood, c.method, setting, c.seed),
		Group:    fmt.Sprintf("%s_%s_%s_%s_%s_test", c.id, c.network, c.ood, c.method, setting),
		Plan:     "test",
		ID:       c.id,
		Network:  c.network,
		OOD:      c.ood,
		Method:   c.method,
		Detector: c.method,
		Setting:  setting,
		Seed:     c.seed,
		Config:   map[string]string{"recipe": "hand-made"},
		Accuracy: c.accuracy,
		Metrics:  metrics.Report{FPR95: c.m[0], DetectionError: c.m[1], AUROC: c.m[2], AUPRIn: c.m[3], AUPROut: c.m[4]},
		Counts:   Counts{IDTest: 9000, OODTest: 9000, IDVal: 1000, OODVal: 1000},
		Commit:   "0123456",
		Machine:  "test",
		Started:  time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Seconds:  map[string]float64{"score_id": 1.5},
	}
}

// put writes r into s with scores of its own (a record is bound to its
// scores file, which comes first).
func put(t *testing.T, s *Store, r *Record) {
	t.Helper()
	if err := s.PutScores(r.Key, []float64{r.Metrics.AUROC, 1}, []float64{0}); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(r); err != nil {
		t.Fatal(err)
	}
}

func records(cells ...cell) []*Record {
	out := make([]*Record, len(cells))
	for k, c := range cells {
		out[k] = c.record()
	}
	return out
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./results -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (go test ./results -update rewrites it); got:\n%s\nwant:\n%s", path, got, want)
	}
}
