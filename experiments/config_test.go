package experiments

import (
	"path/filepath"
	"testing"
)

func TestModelPath(t *testing.T) {
	p := &Plan{}
	if got, want := p.ModelPath("o", "k"), filepath.Join("o", "models", "k.ckpt"); got != want {
		t.Errorf("ModelPath = %q, want %q", got, want)
	}
	p.File.Models = "shared/models"
	if got, want := p.ModelPath("o", "k+job"), filepath.Join("shared", "models", "k+job.ckpt"); got != want {
		t.Errorf("with models: ModelPath = %q, want %q", got, want)
	}
}
