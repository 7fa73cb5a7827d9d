package loaders

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// imageTree is an ODIN-like set: a root image (ignored, as make_dataset
// ignores files directly in the root when there are subdirectories), images
// in two subfolders and a nested one, of several formats and sizes, and
// files that must be skipped.
func imageTree(t *testing.T) map[string][]byte {
	return map[string][]byte{
		"top.png":           rgbPNG(t, 32, 32, 1),
		"test/b.png":        rgbPNG(t, 32, 32, 2), // already 32×32: passes unchanged
		"test/a.jpg":        rgbJPEG(t, 64, 64, 3),
		"test/C.JPEG":       grayJPEG(t, 40, 50, 77), // grey, non-square
		"test/readme.txt":   []byte("not an image"),
		"test/._a.jpg":      []byte("AppleDouble"),
		"test/sub/d.png":    rgbPNG(t, 36, 36, 4),
		"test-2/e.png":      rgbPNG(t, 100, 30, 5),
		"other/notes.md":    []byte("# notes"),
		"test/sub/f.bmp.gz": []byte("skipped by extension"),
	}
}

// The order: directories by path ("test" < "test-2" < "test/sub" byte-wise,
// since '-' < '/'), then names ("C.JPEG" < "a.jpg" < "b.png").
var imageTreeOrder = []string{"test/C.JPEG", "test/a.jpg", "test/b.png", "test-2/e.png", "test/sub/d.png"}

func TestReadImagesFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "Imagenet")
	writeFiles(t, dir, imageTree(t))
	d, err := ReadImages("fixture", dir, ImageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != len(imageTreeOrder) || d.Labelled() || d.Name != "fixture" {
		t.Fatalf("%d images (labelled %v), want %d", d.Len(), d.Labelled(), len(imageTreeOrder))
	}
	var want []string
	for _, n := range imageTreeOrder {
		want = append(want, filepath.Join(dir, filepath.FromSlash(n)))
	}
	if !reflect.DeepEqual(d.Sources, want) {
		t.Errorf("sources\n%q\nwant\n%q", d.Sources, want)
	}
	// b.png is 32×32: pixel (x, y) = (5x, 3y, 2) unchanged.
	b := d.Image(2)
	for _, p := range [][2]int{{0, 0}, {31, 0}, {7, 19}, {31, 31}} {
		x, y := p[0], p[1]
		o := y*Side + x
		if b[o] != byte(5*x) || b[PlaneBytes+o] != byte(3*y) || b[2*PlaneBytes+o] != 2 {
			t.Errorf("b.png pixel (%d,%d) = %d,%d,%d", x, y, b[o], b[PlaneBytes+o], b[2*PlaneBytes+o])
		}
	}
	// The grey JPEG has three equal planes close to 77.
	c := d.Image(0)
	if !bytes.Equal(c[:PlaneBytes], c[PlaneBytes:2*PlaneBytes]) || !bytes.Equal(c[:PlaneBytes], c[2*PlaneBytes:]) {
		t.Error("grey image planes differ")
	}
	if c[500] < 75 || c[500] > 79 {
		t.Errorf("grey value %d, want about 77", c[500])
	}
}

func TestReadImagesFlatFolder(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"2.png": rgbPNG(t, 32, 32, 2), "1.png": rgbPNG(t, 48, 48, 1), "x.txt": nil})
	d, err := ReadImages("flat", dir, ImageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(dir, "1.png"), filepath.Join(dir, "2.png")}; !reflect.DeepEqual(d.Sources, want) {
		t.Errorf("sources %q, want %q", d.Sources, want)
	}
}

// TestReadImagesArchives reads the same tree as a folder, a .tar.gz, a .tar
// and a .zip (members in scrambled order) and gets the same pixels in the
// same order.
func TestReadImagesArchives(t *testing.T) {
	tree := imageTree(t)
	root := t.TempDir()
	dir := filepath.Join(root, "LSUN")
	writeFiles(t, dir, tree)
	ref, err := ReadImages("lsun", dir, ImageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	order := []string{"test/sub/d.png", "test/readme.txt", "test/b.png", "top.png", "test-2/e.png", "test/a.jpg", "other/notes.md", "test/._a.jpg", "test/C.JPEG", "test/sub/f.bmp.gz"}
	for _, tc := range []struct {
		file string
		data []byte
	}{
		{"LSUN.tar.gz", tarBytes(t, prefixed("LSUN/", tree, order), true)},
		{"LSUN.tar", tarBytes(t, prefixed("./LSUN/", tree, order), false)},
		{"LSUN.zip", zipBytes(t, prefixed("LSUN/", tree, order))},
		{"nodir.tar.gz", tarBytes(t, prefixed("", tree, order), true)}, // no top-level folder
	} {
		p := filepath.Join(root, tc.file)
		writeFile(t, p, tc.data)
		d, err := ReadImages("lsun", p, ImageOptions{})
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if !bytes.Equal(d.Pixels, ref.Pixels) {
			t.Errorf("%s: pixels differ from the folder's", tc.file)
		}
		prefix := "LSUN/"
		if tc.file == "nodir.tar.gz" {
			prefix = ""
		}
		for i, n := range imageTreeOrder {
			if want := p + ":" + prefix + n; d.Sources[i] != want {
				t.Errorf("%s: source %d = %q, want %q", tc.file, i, d.Sources[i], want)
			}
		}
	}
}

func TestReadImagesErrors(t *testing.T) {
	root := t.TempDir()
	bad := rgbJPEG(t, 64, 64, 9)
	bad = bad[:len(bad)/3] // truncated JPEG
	files := map[string][]byte{"test/ok.png": rgbPNG(t, 32, 32, 1), "test/broken.jpg": bad}
	writeFiles(t, filepath.Join(root, "iSUN"), files)
	good := tarBytes(t, prefixed("iSUN/", map[string][]byte{"test/ok.png": files["test/ok.png"]}, []string{"test/ok.png"}), true)
	writeFile(t, filepath.Join(root, "iSUN.tar.gz"), tarBytes(t, prefixed("iSUN/", files, []string{"test/ok.png", "test/broken.jpg"}), true))
	writeFile(t, filepath.Join(root, "cut.tar.gz"), good[:len(good)-40])
	writeFile(t, filepath.Join(root, "html.tar.gz"), []byte("<html>"))
	writeFiles(t, filepath.Join(root, "empty"), map[string][]byte{"a/readme.txt": nil})
	for _, tc := range []struct {
		path string
		want []string
	}{
		{filepath.Join(root, "iSUN"), []string{filepath.Join(root, "iSUN", "test", "broken.jpg") + ": decode:"}},
		{filepath.Join(root, "iSUN.tar.gz"), []string{filepath.Join(root, "iSUN.tar.gz") + ":iSUN/test/broken.jpg: decode:"}},
		{filepath.Join(root, "cut.tar.gz"), []string{"archive " + filepath.Join(root, "cut.tar.gz"), "iSUN/test/ok.png"}},
		{filepath.Join(root, "html.tar.gz"), []string{"not a tar, tar.gz or zip archive"}},
		{filepath.Join(root, "empty"), []string{"no images"}},
		{filepath.Join(root, "absent"), []string{"no such file"}},
	} {
		_, err := ReadImages("x", tc.path, ImageOptions{})
		if err == nil {
			t.Errorf("%s: no error", tc.path)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", tc.path, err, w)
			}
		}
	}
}

func TestReadImagesCropSeeded(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{}
	for i := 0; i < 6; i++ {
		files[filepath.Join("s", string(rune('a'+i))+".png")] = rgbPNG(t, 64, 48, byte(i))
	}
	writeFiles(t, dir, files)
	read := func(seed uint64) *Dataset {
		d, err := ReadImages("c", dir, ImageOptions{Fit: FitCrop, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a, b, c := read(1), read(1), read(2)
	if !bytes.Equal(a.Pixels, b.Pixels) {
		t.Error("same seed, different crops")
	}
	if bytes.Equal(a.Pixels, c.Pixels) {
		t.Error("different seeds, same crops")
	}
	// Each crop is a window of the 64×48 image, whose pixel (x, y) is
	// (5x, 3y, seed): the window's offset is its first pixel's (R/5, G/3).
	for i := 0; i < a.Len(); i++ {
		img := a.Image(i)
		left, top := int(img[0])/5, int(img[PlaneBytes])/3
		if left > 32 || top > 16 || img[1] != byte(5*(left+1)) || img[PlaneBytes+Side] != byte(3*(top+1)) {
			t.Errorf("image %d is not a 32×32 window (left %d, top %d)", i, left, top)
		}
	}
}

func TestIsImageName(t *testing.T) {
	for name, want := range map[string]bool{"a.jpg": true, "a.JPEG": true, "b.png": true, "c.Tif": true, "d.txt": false, "e.jpg.txt": false, "f": false, "g.ppm": true} {
		if got := isImageName(name); got != want {
			t.Errorf("isImageName(%q) = %v", name, got)
		}
	}
}

func TestCleanMemberName(t *testing.T) {
	for in, want := range map[string]string{"./a/b.jpg": "a/b.jpg", "a//b.jpg": "a/b.jpg", "/abs/x.png": "abs/x.png", "../up.png": "../up.png", `win\dir\x.png`: "win/dir/x.png"} {
		if got := cleanMemberName(in); got != want {
			t.Errorf("cleanMemberName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReadImagesSkipsSymlinkToDir(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"s/a.png": rgbPNG(t, 32, 32, 1)})
	if err := os.Symlink(filepath.Join(dir, "s"), filepath.Join(dir, "s", "loop.png")); err != nil {
		t.Skip(err)
	}
	d, err := ReadImages("x", dir, ImageOptions{})
	if err != nil || d.Len() != 1 {
		t.Fatalf("%v, %v", d, err)
	}
}
