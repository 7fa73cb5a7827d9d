package loaders

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/internal/testenv"
)

func reportsByName(rs []Report) map[string]Report {
	m := map[string]Report{}
	for _, r := range rs {
		m[r.Name] = r
	}
	return m
}

func TestCheck(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, filepath.Join(root, "cifar-10-batches-bin"), cifar10Files(3, 2))
	writeFiles(t, root, tinyFiles(t))
	// LSUN with 1,001 images: the paper's split gives 1,000 + 1.
	png := rgbPNG(t, 32, 32, 1)
	lsun := map[string][]byte{}
	for i := 0; i < 1001; i++ {
		lsun[fmt.Sprintf("test/%04d.png", i)] = png
	}
	writeFiles(t, filepath.Join(root, "LSUN"), lsun)
	// iSUN with a broken image.
	isun := map[string][]byte{"p/a.png": png, "p/b.png": png[:40]}
	writeFile(t, filepath.Join(root, "iSUN.tar.gz"), tarBytes(t, prefixed("iSUN/", isun, []string{"p/a.png", "p/b.png"}), true))
	writeFiles(t, filepath.Join(root, "mine"), map[string][]byte{"x/1.png": png, "x/2.png": png})

	reports, err := Check(root, Options{Custom: []Custom{{Name: "mine", Path: "mine", Fit: FitCrop}}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range reports {
		names = append(names, r.Name)
	}
	if got := strings.Join(names, " "); got != "cifar10 cifar100 tinyimagenet-crop tinyimagenet-crop-fix tinyimagenet-resize tinyimagenet-resize-fix lsun-crop lsun-resize isun mine" {
		t.Errorf("reports in order %q", got)
	}
	m := reportsByName(reports)

	c := m["cifar10"]
	if c.Role != RoleID || c.Train != 15 || c.Test != 2 || c.Status != Ready || c.Source != filepath.Join(root, "cifar-10-batches-bin") {
		t.Errorf("cifar10 %+v", c)
	}
	if len(c.Warnings) != 3 || !strings.Contains(c.Warnings[0], "cifar10/train has 15 images; the official release has 50000") ||
		!strings.Contains(c.Warnings[2], "fewer than 1000 images") {
		t.Errorf("cifar10 warnings %q", c.Warnings)
	}
	if r := m["cifar100"]; r.Status != Missing || r.Fetch != "cifar100" || !strings.Contains(r.Problem, "get it with: mcdood data fetch --data "+root+" cifar100") {
		t.Errorf("cifar100 %+v", r)
	}
	for _, name := range []string{"tinyimagenet-crop", "tinyimagenet-crop-fix", "tinyimagenet-resize", "tinyimagenet-resize-fix"} {
		r := m[name]
		if r.Test != 5 || !strings.HasPrefix(r.Note, "derived: ") || !r.FromTiny || r.Status != Ready {
			t.Errorf("%s %+v", name, r)
		}
	}
	if r := m["lsun-crop"]; r.Test != 1001 || r.Val != 1000 || r.SplitTest != 1 || r.Status != Ready || len(r.Warnings) != 1 {
		t.Errorf("lsun-crop %+v", r)
	}
	if r := m["lsun-resize"]; r.Status != Missing || r.Fetch != "lsun-resize" {
		t.Errorf("lsun-resize %+v", r)
	}
	if r := m["isun"]; r.Status != Broken || !strings.Contains(r.Problem, "iSUN.tar.gz:iSUN/p/b.png: decode") {
		t.Errorf("isun %+v", r)
	}
	if r := m["mine"]; r.Test != 2 || r.Status != Ready || r.FromTiny || r.Note != "custom: seeded 32×32 crops" {
		t.Errorf("mine %+v", r)
	}

	if _, err := Check(filepath.Join(root, "absent"), Options{}); err == nil {
		t.Error("Check of a missing root succeeded")
	}
}

// TestCheckMirror runs Check on the data mirror: CIFAR-10 complete and as
// released, the four Tiny ImageNet derivations with 10,000 images.
func TestCheckMirror(t *testing.T) {
	root := testenv.DataMirror(t)
	testenv.Long(t)
	reports, err := Check(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := reportsByName(reports)
	if c := m["cifar10"]; c.Train != 50000 || c.Test != 10000 || c.Val != 1000 || c.SplitTest != 9000 || len(c.Warnings) != 0 || c.Status != Ready {
		t.Errorf("cifar10 %+v", c)
	}
	for _, name := range []string{"tinyimagenet-crop", "tinyimagenet-crop-fix", "tinyimagenet-resize", "tinyimagenet-resize-fix"} {
		if r := m[name]; r.Test != 10000 || r.Val != 1000 || r.SplitTest != 9000 || len(r.Warnings) != 0 || r.Status != Ready {
			t.Errorf("%s %+v", name, r)
		}
	}
	for _, r := range reports {
		if r.Status == Broken {
			t.Errorf("%s: %s", r.Name, r.Problem)
		}
	}
}
