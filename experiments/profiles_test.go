package experiments

import (
	"path/filepath"
	"testing"

	"github.com/mcdood/mcdood/internal/testenv"
)

// The shipped profiles must always parse.
func TestShippedProfilesParse(t *testing.T) {
	root := testenv.RepoRoot(t)
	files, _ := filepath.Glob(filepath.Join(root, "experiments", "*.toml"))
	files = append(files, filepath.Join(root, "experiments.toml"))
	if len(files) < 3 {
		t.Fatalf("profiles found: %v", files)
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%v", err)
		}
	}
}

// experiments/eloc.toml shares the default plan's cells: the same network
// recipes and the same parameters for every method the default plan has.
func TestELOCProfileSharesTheDefaultCells(t *testing.T) {
	root := testenv.RepoRoot(t)
	def, err := Load(filepath.Join(root, "experiments.toml"))
	if err != nil {
		t.Fatal(err)
	}
	el, err := Load(filepath.Join(root, "experiments", "eloc.toml"))
	if err != nil {
		t.Fatal(err)
	}
	shared := 0
	for _, c := range def.Cells {
		for _, e := range el.Cells {
			if e.ID == c.ID && e.Network == c.Network && e.OOD == c.OOD && e.Method == c.Method && e.Setting == c.Setting && e.Seed == c.Seed {
				if e.Key != c.Key {
					t.Errorf("cell %s is %s in experiments/eloc.toml: its network or method differs from experiments.toml's", c.Key, e.Key)
				}
				shared++
			}
		}
	}
	if shared != len(def.Cells) || len(el.Cells) <= len(def.Cells) {
		t.Fatalf("%d of the default plan's %d cells in eloc.toml's %d", shared, len(def.Cells), len(el.Cells))
	}
}
