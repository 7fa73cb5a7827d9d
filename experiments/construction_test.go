package experiments

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/ood"
)

// TestCellKeysHashConstruction: cells of a built-in set whose derivation
// changed (tinyimagenet-resize and tinyimagenet-crop, now built as ODIN
// built them) get new keys, so records of the old derivation are not
// reused; every other set keeps the key it had, computed here with the
// formula as it was before the construction was hashed.
func TestCellKeysHashConstruction(t *testing.T) {
	plan := strings.Replace(good, `ood = ["gaussian", "tinyimagenet-crop"]`,
		`ood = ["gaussian", "tinyimagenet-crop", "tinyimagenet-crop-fix", "tinyimagenet-resize", "tinyimagenet-resize-fix", "isun"]
settings = ["transductive", "cross"]
cross_pool = "tinyimagenet-resize"`, 1)
	p, err := Parse("construction.toml", []byte(plan))
	if err != nil {
		t.Fatal(err)
	}
	// The key as cellKeys computed it before the ODIN-built sets existed.
	oldKey := func(c Cell) string {
		m := p.Method(c.Method)
		f := p.File
		h := shortHash(struct {
			Model                  string
			Method                 string
			Validation             int
			SplitSeed              uint32
			Noise, Test, OODImages int
			Custom                 *loaders.Custom
			CrossPool              string
		}{p.ModelKey(c.ID, c.Network, c.Seed), m.Canonical(), f.Validation, f.SplitSeed, f.NoiseImages, f.TestImages, f.OODImages, nil,
			map[bool]string{true: p.CrossPool(c.OOD)}[c.Setting == string(ood.Cross)]})
		return fmt.Sprintf("%s_%s_%s_%s_%s_s%d_%s", c.ID, c.Network, c.OOD, c.Method, c.Setting, c.Seed, h)
	}
	changed := map[string]bool{"tinyimagenet-crop": true, "tinyimagenet-resize": true}
	seen := map[string]bool{}
	for _, c := range p.Cells {
		seen[c.OOD+" "+c.Setting] = true
		// Cross cells draw their pool from tinyimagenet-resize (or, for its
		// own cells, the set after it), whose images changed too.
		pool := p.CrossPool(c.OOD)
		want := changed[c.OOD] || (c.Setting == string(ood.Cross) && changed[pool])
		if got := c.Key != oldKey(c); got != want {
			t.Errorf("%s (%s, pool %q): key changed %v, want %v", c.Key, c.Setting, pool, got, want)
		}
	}
	if len(seen) != 12 {
		t.Errorf("covered %d (set, setting) pairs, want 12", len(seen))
	}
	if loaders.Construction("isun") != "" || loaders.Construction("tinyimagenet-resize") != "odin-resize" || loaders.Construction("tinyimagenet-crop") != "odin-crop" {
		t.Error("construction identifiers")
	}
}
