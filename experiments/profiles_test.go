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

// The profiles beside the default plan share its cells: the same network
// recipe (so the same cached network) and, for every cell the default plan
// has too, the same key (so its records are reused, not run again).
func TestProfilesShareTheDefaultCells(t *testing.T) {
	root := testenv.RepoRoot(t)
	def, err := Load(filepath.Join(root, "experiments.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file string
		// shared is how many of the default plan's cells the profile has.
		shared int
	}{
		{"eloc.toml", len(def.Cells)},
		{"mcd-study.toml", 2},      // mcd on the study's two natural-image sets (the default runs no mcd on noise)
		{"settings.toml", 4*3 - 2}, // transductive msp, odin on four sets, mcd on the two natural-image ones
		{"odin-data.toml", 4 * 3},  // msp, odin, mcd on crop, resize, resize-fix and isun
		{"head2-study.toml", 0},    // the default network at the published profile's split and budget
	} {
		p, err := Load(filepath.Join(root, "experiments", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range def.File.Networks {
			if p.ModelKey("cifar10", n, 1) != def.ModelKey("cifar10", n, 1) {
				t.Errorf("%s: network %s's recipe differs from experiments.toml's (model key %s, not %s)", tc.file, n, p.ModelKey("cifar10", n, 1), def.ModelKey("cifar10", n, 1))
			}
		}
		shared := 0
		for _, c := range def.Cells {
			for _, e := range p.Cells {
				if e.ID == c.ID && e.Network == c.Network && e.OOD == c.OOD && e.Method == c.Method && e.Setting == c.Setting && e.Seed == c.Seed {
					if e.Key != c.Key {
						t.Errorf("cell %s is %s in %s: its network or method differs from experiments.toml's", c.Key, e.Key, tc.file)
					}
					shared++
				}
			}
		}
		if shared != tc.shared || len(p.Cells) <= shared {
			t.Errorf("%s: %d of the default plan's %d cells (want %d) in its %d", tc.file, shared, len(def.Cells), tc.shared, len(p.Cells))
		}
	}
}
