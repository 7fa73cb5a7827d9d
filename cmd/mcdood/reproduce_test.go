package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/experiments"
	"github.com/mcdood/mcdood/metrics"
	"github.com/mcdood/mcdood/results"
)

// tinyPlan is a plan whose cells these tests never run: their records are
// written by hand, or their data is missing.
const tinyPlan = `
name = "tiny"
id = ["cifar10"]
networks = ["small"]
ood = ["gaussian", "isun", "uniform"]
methods = ["msp", "mcd"]
validation = 100
train_images = 512
test_images = 300
ood_images = 300
noise_images = 300

[network.small]
epochs = 1
batch = 64
lr = 0.05
schedule = "constant"
momentum = 0.9
`

// planFile writes tinyPlan and returns its path and its parsed cells.
func planFile(t *testing.T) (string, *experiments.Plan) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tiny.toml")
	if err := os.WriteFile(path, []byte(tinyPlan), 0o644); err != nil {
		t.Fatal(err)
	}
	plan, err := experiments.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, plan
}

// A rerun of some cells (--methods) rewrites OUT/tables from every record
// in OUT, not only its own.
func TestReproduceFilteredKeepsTables(t *testing.T) {
	path, plan := planFile(t)
	out := filepath.Join(t.TempDir(), "out")
	s, _ := results.OpenStore(out)
	id, ood := []float64{0.9, 0.8, 0.7}, []float64{0.1, 0.75}
	m, err := metrics.Compute(id, ood)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range plan.Cells {
		if c.Method == "msp" && c.OOD == "uniform" {
			continue // not run yet: its data is missing below
		}
		if err := s.PutScores(c.Key, id, ood); err != nil {
			t.Fatal(err)
		}
		r := &results.Record{Key: c.Key, Group: c.Group, Plan: plan.Name, ID: c.ID, Network: c.Network, OOD: c.OOD,
			Method: c.Method, Detector: c.Method, Setting: c.Setting, Seed: c.Seed, Accuracy: 0.5, Metrics: m}
		if err := s.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := runCLI(t, nil, "reproduce", "-c", path, "--data", t.TempDir(), "--out", out, "--methods", "msp", "--quiet")
	if code != 0 || !strings.Contains(stdout, "0 cells run, 2 already recorded") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	csv, err := os.ReadFile(filepath.Join(out, "tables", "tables.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if rows := strings.Count(string(csv), "\ncifar10,small,"); rows != 5 || !strings.Contains(string(csv), ",mcd,") {
		t.Errorf("tables.csv has %d rows, want 5 (mcd's too):\n%s", rows, csv)
	}
}

// reproduce refuses a negative checkpoint interval; a data root that is a
// file is said to be one; a run that does nothing leaves no folder.
func TestReproduceRefusals(t *testing.T) {
	path, _ := planFile(t)
	t.Run("bad checkpoint interval", func(t *testing.T) {
		code, _, stderr := runCLI(t, nil, "reproduce", "-c", path, "--data", t.TempDir(), "--out", t.TempDir(), "--checkpoint-every", "-1")
		if code != 2 || !strings.Contains(stderr, "--checkpoint-every must be ≥ 0") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("data root is a file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "data.tar")
		os.WriteFile(file, []byte("x"), 0o644)
		out := filepath.Join(t.TempDir(), "out")
		code, stdout, stderr := runCLI(t, nil, "reproduce", "-c", path, "--data", file, "--out", out, "--quiet")
		if want := "mcdood reproduce: data root " + file + " is not a directory\n"; code != 1 || stdout != "" || stderr != want {
			t.Errorf("exit %d, stdout %q, stderr %q; want %q", code, stdout, stderr, want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s was made", out)
		}
	})
	t.Run("nothing to do", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		code, stdout, stderr := runCLI(t, nil, "reproduce", "-c", path, "--data", t.TempDir(), "--out", out, "--quiet")
		if code != 1 || !strings.Contains(stderr, "no records: nothing to tabulate") || !strings.Contains(stdout, "missing data cifar10") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		if entries, err := os.ReadDir(out); err == nil {
			t.Errorf("%s was left, holding %v", out, entries)
		}
	})
}
