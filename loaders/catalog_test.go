package loaders

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveRoot(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == DataEnv {
				return v
			}
			return ""
		}
	}
	for _, tc := range []struct {
		flag   string
		getenv func(string) string
		want   string
	}{
		{"", nil, "data"},
		{"", env(""), "data"},
		{"", env("/e"), "/e"},
		{"/f", env("/e"), "/f"},
		{"/f", nil, "/f"},
	} {
		if got := ResolveRoot(tc.flag, tc.getenv); got != tc.want {
			t.Errorf("ResolveRoot(%q) = %q, want %q", tc.flag, got, tc.want)
		}
	}
}

// odinFixture writes a small ODIN-style set (base/test/*.png) as a folder
// or a .tar.gz under root and returns its n images' bytes.
func odinFixture(t *testing.T, root, base string, n int, archive bool) {
	files := map[string][]byte{}
	var order []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("test/%04d.png", i)
		files[name] = rgbPNG(t, 32, 32, byte(i))
		order = append(order, name)
	}
	if archive {
		writeFile(t, filepath.Join(root, base+".tar.gz"), tarBytes(t, prefixed(base+"/", files, order), true))
	} else {
		writeFiles(t, filepath.Join(root, base), files)
	}
}

func TestOpenODINSets(t *testing.T) {
	root := t.TempDir()
	odinFixture(t, root, "LSUN", 3, false)
	odinFixture(t, root, "LSUN_resize", 4, true)
	odinFixture(t, root, "iSUN", 2, true)
	odinFixture(t, root, "Imagenet", 5, true)
	writeFiles(t, root, tinyFiles(t)) // ODIN's Imagenet wins over the derivation
	for name, n := range map[string]int{"lsun-crop": 3, "lsun-resize": 4, "isun": 2, "tinyimagenet-crop": 5} {
		d, err := Open(name, root, Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d.Len() != n || d.Name != name {
			t.Errorf("%s: %d images named %q, want %d", name, d.Len(), d.Name, n)
		}
		src, _ := Locate(name, root, Options{})
		if src.Derived || src.Fit != FitResize {
			t.Errorf("%s: source %+v", name, src)
		}
	}
	// Imagenet_resize is absent: ODIN's construction from tiny-imagenet-200.
	src, err := Locate("tinyimagenet-resize", root, Options{})
	if err != nil || !src.Derived || src.Fit != FitODINResize || src.Path != filepath.Join(root, "tiny-imagenet-200") {
		t.Fatalf("tinyimagenet-resize: %+v, %v", src, err)
	}
	d, err := Open("tinyimagenet-resize", root, Options{})
	if err != nil || d.Len() != 5 || d.Name != "tinyimagenet-resize" {
		t.Fatalf("tinyimagenet-resize: %v, %v", d, err)
	}
	// The FIX twins are always derived, even beside ODIN's Imagenet.
	for name, fit := range map[string]Fit{"tinyimagenet-crop-fix": FitCrop, "tinyimagenet-resize-fix": FitResize} {
		src, err := Locate(name, root, Options{})
		if err != nil || !src.Derived || src.Fit != fit || src.Path != filepath.Join(root, "tiny-imagenet-200") {
			t.Errorf("%s: %+v, %v", name, src, err)
		}
		if d, err := Open(name, root, Options{}); err != nil || d.Len() != 5 || d.Name != name {
			t.Errorf("%s: %v, %v", name, d, err)
		}
	}
}

// TestFIXTwins: each FIX twin is its set's derivation without ODIN's
// artefacts: the same seeded crop windows without the JPEG step, and PIL's
// antialiased bilinear instead of nearest neighbour + JPEG. Without Tiny
// ImageNet a twin is missing with tinyimagenet as the fetch (it has no
// archive of its own); titles say FIX.
func TestFIXTwins(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, tinyFiles(t))
	open := func(name string) *Dataset {
		d, err := Open(name, root, Options{Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	crop, cropFix := open("tinyimagenet-crop"), open("tinyimagenet-crop-fix")
	resize, resizeFix := open("tinyimagenet-resize"), open("tinyimagenet-resize-fix")
	rng := newRand(3)
	for i, src := range cropFix.Sources {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		im := mustDecode(t, data)
		want := make([]byte, ImageBytes)
		fitTo32(im, FitCrop, rng, want)
		if !bytes.Equal(cropFix.Image(i), want) {
			t.Errorf("crop-fix image %d is not FitCrop's", i)
		}
		// odin-crop: the same window, through JPEG at quality 75.
		win := randomCrop32(im, newRand(3))
		if i == 0 && !bytes.Equal(crop.Image(0), planar(jpegRoundTrip(win, 75))) {
			t.Error("odin-crop image 0 is not the FIX crop's window through the JPEG round trip")
		}
		fitTo32(im, FitResize, nil, want)
		if !bytes.Equal(resizeFix.Image(i), want) {
			t.Errorf("resize-fix image %d is not FitResize's", i)
		}
		fitTo32(im, FitODINResize, nil, want)
		if !bytes.Equal(resize.Image(i), want) {
			t.Errorf("resize image %d is not FitODINResize's", i)
		}
	}
	if bytes.Equal(resize.Pixels, resizeFix.Pixels) || bytes.Equal(crop.Pixels, cropFix.Pixels) {
		t.Error("a set equals its FIX twin")
	}
	for name, title := range map[string]string{"tinyimagenet-crop-fix": "TinyImageNet (crop, FIX)", "tinyimagenet-resize-fix": "TinyImageNet (resize, FIX)", "tinyimagenet-resize": "TinyImageNet (resize)"} {
		if got := Title(name); got != title {
			t.Errorf("Title(%s) = %q, want %q", name, got, title)
		}
	}
	empty := t.TempDir()
	_, err := Locate("tinyimagenet-resize-fix", empty, Options{})
	var nf *NotFoundError
	if !errors.As(err, &nf) || nf.Fetch != "tinyimagenet" || strings.Contains(err.Error(), "Imagenet_resize") {
		t.Errorf("missing FIX twin: %v", err)
	}
}

// planar is toPlanar of a 32×32 image.
func planar(im rgbImage) []byte {
	out := make([]byte, ImageBytes)
	toPlanar(im, 0, 0, out)
	return out
}

func TestOpenDerivedCropUsesSeed(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, tinyFiles(t))
	a, err := Open("tinyimagenet-crop", root, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Open("tinyimagenet-crop", root, Options{Seed: 1})
	c, _ := Open("tinyimagenet-crop", root, Options{Seed: 2})
	if !bytes.Equal(a.Pixels, b.Pixels) || bytes.Equal(a.Pixels, c.Pixels) {
		t.Error("crop derivation does not follow the seed")
	}
}

func TestOpenNotFoundAndUnknown(t *testing.T) {
	root := t.TempDir()
	_, err := Open("lsun-crop", root, Options{})
	var nf *NotFoundError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &nf) {
		t.Fatalf("error %v is not a NotFoundError", err)
	}
	for _, w := range []string{filepath.Join(root, "LSUN"), filepath.Join(root, "LSUN.tar.gz"), "mcdood data fetch --data " + root + " lsun-crop"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	_, err = Open("tinyimagenet-crop", root, Options{})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "tiny-imagenet-200.zip") || !strings.Contains(err.Error(), "fetch --data "+root+" tinyimagenet-crop") {
		t.Errorf("error %v", err)
	}
	_, err = Open("svhn", root, Options{Custom: []Custom{{Name: "mine", Path: "x", Fit: FitResize}}})
	if err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown name: %v", err)
	}
	for _, w := range append(Names(), `"svhn"`, "mine") {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not list %q", err, w)
		}
	}
}

func TestOpenCustom(t *testing.T) {
	root := t.TempDir()
	odinFixture(t, root, "mine", 3, true)
	abs := t.TempDir()
	writeFiles(t, abs, map[string][]byte{"a.png": rgbPNG(t, 80, 60, 1), "b.png": rgbPNG(t, 40, 40, 2)})
	custom := []Custom{
		{Name: "my-archive", Path: "mine.tar.gz", Fit: FitResize}, // relative to the root
		{Name: "my-crops", Path: abs, Fit: FitCrop},
	}
	d, err := Open("my-archive", root, Options{Custom: custom})
	if err != nil || d.Len() != 3 || d.Name != "my-archive" {
		t.Fatalf("%v, %v", d, err)
	}
	a, err := Open("my-crops", root, Options{Custom: custom, Seed: 4})
	if err != nil || a.Len() != 2 {
		t.Fatalf("%v, %v", a, err)
	}
	b, _ := ReadImages("my-crops", abs, ImageOptions{Fit: FitCrop, Seed: 4})
	if !bytes.Equal(a.Pixels, b.Pixels) {
		t.Error("custom crop set differs from ReadImages with the same seed")
	}
	// A declared path that leads nowhere is an error naming it, not
	// "missing" with fetch advice (hostile_test.go has the other cases).
	_, err = Open("gone", root, Options{Custom: []Custom{{Name: "gone", Path: "nowhere", Fit: FitResize}}})
	if err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), filepath.Join(root, "nowhere")) || strings.Contains(err.Error(), "fetch") {
		t.Errorf("missing custom path: %v", err)
	}
}

func TestCustomValidate(t *testing.T) {
	for _, tc := range []struct {
		c    Custom
		want string
	}{
		{Custom{Name: "ok-name", Path: "p", Fit: FitCrop}, ""},
		{Custom{Name: "Bad_Name", Path: "p", Fit: FitCrop}, "kebab-case"},
		{Custom{Name: "lsun-crop", Path: "p", Fit: FitCrop}, "built-in"},
		{Custom{Name: "cifar10", Path: "p", Fit: FitCrop}, "built-in"},
		{Custom{Name: "x", Fit: FitCrop}, "no path"},
		{Custom{Name: "x", Path: "p", Fit: "stretch"}, "unknown fit"},
		{Custom{Name: "x", Path: "../../../../etc", Fit: FitCrop}, `path "../../../../etc" leaves the data root`},
		{Custom{Name: "x", Path: "a/../../b", Fit: FitCrop}, "leaves the data root"},
		{Custom{Name: "x", Path: "a/../b", Fit: FitCrop}, ""},
		{Custom{Name: "x", Path: "/elsewhere/../etc", Fit: FitCrop}, ""}, // absolute paths may be anywhere, as documented
	} {
		err := tc.c.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.want)
		}
	}
}

func TestOpenNoise(t *testing.T) {
	d, err := Open("gaussian", t.TempDir(), Options{NoiseImages: 3, Seed: 9})
	if err != nil || d.Len() != 3 || d.Name != "gaussian" {
		t.Fatalf("%v, %v", d, err)
	}
	g, _ := Gaussian(3, 9)
	if !bytes.Equal(d.Pixels, g.Pixels) {
		t.Error("Open(gaussian) differs from Gaussian")
	}
	u, err := Open("uniform", t.TempDir(), Options{Seed: 9})
	if err != nil || u.Len() != DefaultNoiseImages {
		t.Fatalf("uniform: %v", err)
	}
}

func TestOpenID(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, filepath.Join(root, "cifar-10-batches-bin"), cifar10Files(1, 1))
	if tr, te, err := OpenID("cifar10", root); err != nil || tr.Len() != 5 || te.Len() != 1 {
		t.Errorf("cifar10: %v", err)
	}
	if _, _, err := OpenID("cifar100", root); !errors.Is(err, ErrNotFound) {
		t.Errorf("cifar100: %v", err)
	}
	if _, _, err := OpenID("mnist", root); err == nil || !strings.Contains(err.Error(), "cifar10, cifar100") {
		t.Errorf("mnist: %v", err)
	}
}

func TestTitles(t *testing.T) {
	for name, want := range map[string]string{"tinyimagenet-crop": "TinyImageNet (crop)", "isun": "iSUN", "cifar100": "CIFAR-100", "my-set": "my-set"} {
		if got := Title(name); got != want {
			t.Errorf("Title(%q) = %q, want %q", name, got, want)
		}
	}
}
