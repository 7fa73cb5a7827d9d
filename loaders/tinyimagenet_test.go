package loaders

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/internal/testenv"
)

// tinyFiles is a Tiny ImageNet fixture: test images 0, 1, 2, 9, 10 (so that
// numeric and lexical order differ), image 9 greyscale, plus files that are
// not test images.
func tinyFiles(t *testing.T) map[string][]byte {
	files := map[string][]byte{
		"tiny-imagenet-200/wnids.txt":                  []byte("n01443537\n"),
		"tiny-imagenet-200/test/images/readme.txt":     []byte("x"),
		"tiny-imagenet-200/test/images/test_x.JPEG":    []byte("bad name, ignored"),
		"tiny-imagenet-200/val/images/val_0.JPEG":      rgbJPEG(t, 64, 64, 200),
		"tiny-imagenet-200/test/images/test_9.JPEG":    grayJPEG(t, 64, 64, 90),
		"tiny-imagenet-200/test/images/test_007.JPEG":  []byte("leading zero, ignored"),
		"tiny-imagenet-200/test/images/test_3.jpg.bak": []byte("ignored"),
	}
	for _, n := range []int{0, 1, 2, 10} {
		files[fmt.Sprintf("tiny-imagenet-200/test/images/test_%d.JPEG", n)] = rgbJPEG(t, 64, 64, byte(20*n))
	}
	return files
}

func TestTinyImageNetDerivations(t *testing.T) {
	files := tinyFiles(t)
	dirRoot := t.TempDir()
	writeFiles(t, dirRoot, files)
	ds, err := TinyImageNet(filepath.Join(dirRoot, "tiny-imagenet-200"), []Fit{FitCrop, FitResize}, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	crop, resize := ds[0], ds[1]
	if crop.Name != "tinyimagenet-crop-fix" || resize.Name != "tinyimagenet-resize-fix" {
		t.Errorf("names %q %q", crop.Name, resize.Name)
	}
	if odin, err := TinyImageNet(filepath.Join(dirRoot, "tiny-imagenet-200"), []Fit{FitODINCrop, FitODINResize}, 5, nil); err != nil ||
		odin[0].Name != "tinyimagenet-crop" || odin[1].Name != "tinyimagenet-resize" {
		t.Errorf("ODIN's constructions: %v", err)
	}
	order := []int{0, 1, 2, 9, 10}
	if crop.Len() != len(order) || resize.Len() != len(order) {
		t.Fatalf("%d and %d images, want %d", crop.Len(), resize.Len(), len(order))
	}
	for i, n := range order {
		if !strings.HasSuffix(resize.Sources[i], fmt.Sprintf("test_%d.JPEG", n)) {
			t.Errorf("image %d from %s, want test_%d.JPEG", i, resize.Sources[i], n)
		}
		// Each derivation equals fitting the decoded image directly.
		im := mustDecode(t, files[fmt.Sprintf("tiny-imagenet-200/test/images/test_%d.JPEG", n)])
		want := make([]byte, ImageBytes)
		fitTo32(im, FitResize, nil, want)
		if !bytes.Equal(resize.Image(i), want) {
			t.Errorf("resize image %d differs from FitResize of test_%d", i, n)
		}
	}
	// Greyscale test_9 stays grey.
	g := crop.Image(3)
	if !bytes.Equal(g[:PlaneBytes], g[2*PlaneBytes:]) {
		t.Error("grey image became coloured")
	}
	// Crops: seeded, deterministic, and the same from the zip.
	again, err := TinyImageNet(filepath.Join(dirRoot, "tiny-imagenet-200"), []Fit{FitCrop}, 5, nil)
	if err != nil || !bytes.Equal(again[0].Pixels, crop.Pixels) {
		t.Errorf("crops not deterministic (%v)", err)
	}
	zipRoot := t.TempDir()
	var es []entry
	for name, data := range files {
		es = append(es, entry{name, data})
	}
	writeFile(t, filepath.Join(zipRoot, "tiny-imagenet-200.zip"), zipBytes(t, es))
	zds, err := TinyImageNet(filepath.Join(zipRoot, "tiny-imagenet-200.zip"), []Fit{FitCrop, FitResize}, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(zds[0].Pixels, crop.Pixels) || !bytes.Equal(zds[1].Pixels, resize.Pixels) {
		t.Error("zip and folder give different images")
	}
	if want := filepath.Join(zipRoot, "tiny-imagenet-200.zip") + ":tiny-imagenet-200/test/images/test_10.JPEG"; zds[0].Sources[4] != want {
		t.Errorf("zip source %q, want %q", zds[0].Sources[4], want)
	}
}

func TestTinyImageNetErrors(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{
		"tiny-imagenet-200/test/images/test_0.JPEG": rgbJPEG(t, 64, 64, 1),
		"tiny-imagenet-200/test/images/test_1.JPEG": []byte("garbage"),
	})
	_, err := TinyImageNet(filepath.Join(root, "tiny-imagenet-200"), []Fit{FitResize}, 0, nil)
	if err == nil || !strings.Contains(err.Error(), "test_1.JPEG: decode") {
		t.Errorf("error %v", err)
	}
	empty := t.TempDir()
	writeFiles(t, empty, map[string][]byte{"tiny-imagenet-200/test/images/x.txt": nil})
	if _, err := TinyImageNet(filepath.Join(empty, "tiny-imagenet-200"), []Fit{FitResize}, 0, nil); err == nil || !strings.Contains(err.Error(), "no test images") {
		t.Errorf("error %v", err)
	}
}

func TestTinyTestNumber(t *testing.T) {
	for in, want := range map[string]int{"test_0.JPEG": 0, "test_9999.JPEG": 9999, "test_01.JPEG": -1, "test_.JPEG": -1, "test_1.jpeg": -1, "val_1.JPEG": -1, "test_-1.JPEG": -1} {
		n, ok := tinyTestNumber(in)
		if (want < 0 && ok) || (want >= 0 && (!ok || n != want)) {
			t.Errorf("tinyTestNumber(%q) = %d, %v", in, n, ok)
		}
	}
}

// TestTinyImageNetMirror derives both sets from the mirror's 10,000 test
// images.
func TestTinyImageNetMirror(t *testing.T) {
	root := testenv.DataMirror(t)
	testenv.Long(t)
	for _, name := range []string{"tinyimagenet-crop", "tinyimagenet-resize"} {
		src, err := Locate(name, root, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !src.Derived {
			t.Fatalf("%s: not derived from Tiny ImageNet: %+v", name, src)
		}
	}
	ds, err := TinyImageNet(filepath.Join(root, "tiny-imagenet-200"), []Fit{FitCrop, FitResize}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Len() != 10000 {
			t.Errorf("%s: %d images, want 10,000", d.Name, d.Len())
		}
		if !strings.HasSuffix(d.Sources[9999], "test_9999.JPEG") {
			t.Errorf("%s: last image from %s", d.Name, d.Sources[9999])
		}
	}
}
