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
