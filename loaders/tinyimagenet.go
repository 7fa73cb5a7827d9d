package loaders

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mcdood/mcdood/internal/progress"
)

// Tiny ImageNet (the CS231n release, http://cs231n.stanford.edu/
// tiny-imagenet-200.zip) and the two OOD sets ODIN built from its 10,000
// unlabelled test images, 64×64 JPEGs tiny-imagenet-200/test/images/
// test_N.JPEG (Liang et al., ICLR 2018, Sec. 4.1): "TinyImageNet (crop)"
// takes a random 32×32 crop of each image, "TinyImageNet (resize)"
// downsamples each to 32×32. ODIN published the sets it made (the Dropbox
// archives Imagenet.tar.gz and Imagenet_resize.tar.gz); the derivations here
// rebuild equivalent sets when those archives are absent — not the same
// pixels (ODIN's crop positions are not published), the same construction,
// with its artefacts (odinfit.go): tinyimagenet-resize is FitODINResize
// (PIL's nearest neighbour 64 → 32, i.e. pixel 2x+1 of each row and column,
// then a JPEG round trip at quality 75), tinyimagenet-crop is FitODINCrop
// (seeded crops, then the same round trip). Their clean FIX twins are
// tinyimagenet-resize-fix, FitResize (PIL's antialiased bilinear: 64 → 32
// weighs each 4×4 neighbourhood 1/8, 3/8, 3/8, 1/8 per axis), and
// tinyimagenet-crop-fix, FitCrop (the same seeded crops, no JPEG step).
// Images are taken in the order of N (test_0, test_1, … test_9999).
const (
	tinyFolder    = "tiny-imagenet-200"
	tinyZip       = "tiny-imagenet-200.zip"
	tinyTestDir   = "test/images"
	tinyTestCount = 10000
)

// tinyLocate returns the folder tiny-imagenet-200 (when its test/images
// exists) or the zip under root, or a *NotFoundError for name.
func tinyLocate(root, name string) (string, error) {
	dir := filepath.Join(root, tinyFolder)
	if st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(tinyTestDir))); err == nil && st.IsDir() {
		return dir, nil
	}
	zp := filepath.Join(root, tinyZip)
	if st, err := os.Stat(zp); err == nil && st.Mode().IsRegular() {
		return zp, nil
	}
	return "", &NotFoundError{Name: name, Root: root, Looked: []string{filepath.Join(dir, filepath.FromSlash(tinyTestDir)), zp}, Fetch: "tinyimagenet"}
}

// tinyTestNumber parses N from "test_N.JPEG".
func tinyTestNumber(base string) (int, bool) {
	s, ok := strings.CutPrefix(base, "test_")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, ".JPEG")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || strconv.Itoa(n) != s {
		return 0, false
	}
	return n, true
}

// listTinyTest lists the test images of a tiny-imagenet-200 folder or zip,
// ordered by N. Other files are ignored; a repeated N is an error.
func listTinyTest(p string) (*imageSet, error) {
	type numbered struct {
		n int
		e imageEntry
	}
	var list []numbered
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	set := &imageSet{}
	switch {
	case st.IsDir():
		dir := filepath.Join(p, filepath.FromSlash(tinyTestDir))
		des, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, de := range des {
			if n, ok := tinyTestNumber(de.Name()); ok && !de.IsDir() {
				f := filepath.Join(dir, de.Name())
				list = append(list, numbered{n, imageEntry{label: f, file: f}})
			}
		}
	case st.Mode().IsRegular():
		a, err := openImageArchive(p, nil)
		if err != nil {
			return nil, err
		}
		set.arc = a
		for i, m := range a.members {
			// tiny-imagenet-200/test/images/test_N.JPEG
			d := path.Dir(m.Name)
			if !strings.HasSuffix("/"+d, "/"+tinyTestDir) {
				continue
			}
			if n, ok := tinyTestNumber(path.Base(m.Name)); ok {
				list = append(list, numbered{n, imageEntry{label: memberLabel(p, m.Name), member: i}})
			}
		}
	default:
		return nil, notRegularError(p, st.Mode())
	}
	if len(list) == 0 {
		set.Close()
		return nil, fmt.Errorf("%s: no test images (want %s/test_N.JPEG)", p, tinyTestDir)
	}
	slices.SortFunc(list, func(a, b numbered) int { return a.n - b.n })
	set.entries = make([]imageEntry, len(list))
	for i, x := range list {
		if i > 0 && list[i-1].n == x.n {
			set.Close()
			return nil, fmt.Errorf("%s: test_%d.JPEG appears twice (%s and %s)", p, x.n, list[i-1].e.label, x.e.label)
		}
		set.entries[i] = x.e
	}
	return set, nil
}

// TinyImageNet derives OOD sets from the Tiny ImageNet test images at p
// (a tiny-imagenet-200 folder or tiny-imagenet-200.zip), one per fit, each
// named as the built-in set derived with that fit ("tinyimagenet-resize" for
// FitODINResize, "tinyimagenet-resize-fix" for FitResize, …). Each image is
// decoded once for all fits. seed seeds the crop positions.
func TinyImageNet(p string, fits []Fit, seed uint64, rep *progress.Reporter) ([]*Dataset, error) {
	return tinyImageNet(context.Background(), p, fits, seed, rep)
}

// tinyImageNet is TinyImageNet stopped between images by a done ctx.
func tinyImageNet(ctx context.Context, p string, fits []Fit, seed uint64, rep *progress.Reporter) ([]*Dataset, error) {
	set, err := listTinyTest(p)
	if err != nil {
		return nil, err
	}
	defer set.Close()
	specs := make([]fitSpec, len(fits))
	for i, f := range fits {
		specs[i] = fitSpec{name: tinyName(f), fit: f, seed: seed}
	}
	return decodeEntries(ctx, set, specs, rep, "decoding Tiny ImageNet test images")
}

// tinyName is the built-in set derived from Tiny ImageNet with fit f.
func tinyName(f Fit) string {
	for _, s := range oodSets {
		if s.tinyFit == f {
			return s.name
		}
	}
	return "tinyimagenet-" + string(f)
}
