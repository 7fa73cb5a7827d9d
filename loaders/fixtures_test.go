package loaders

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
)

// Fixtures the tests write into t.TempDir(): CIFAR records in both layouts,
// archives, and small JPEG/PNG/grey images of several sizes.

// cifarPixel is the fixture's pixel byte i of record rec of file f.
func cifarPixel(f, rec, i int) byte { return byte(f*31 + rec*7 + i*3) }

// cifarRecords makes n records for file index f; label(rec) gives the label
// byte(s).
func cifarRecords(f, n int, labels func(rec int) []byte) []byte {
	var b []byte
	for r := 0; r < n; r++ {
		b = append(b, labels(r)...)
		for i := 0; i < ImageBytes; i++ {
			b = append(b, cifarPixel(f, r, i))
		}
	}
	return b
}

// cifar10Files returns the six CIFAR-10 files of a fixture with per records
// per training batch and nTest test records; labels cycle 0..9.
func cifar10Files(per, nTest int) map[string][]byte {
	files := map[string][]byte{}
	for f, name := range cifar10Layout.train {
		files[name] = cifarRecords(f, per, func(r int) []byte { return []byte{byte((f*per + r) % 10)} })
	}
	files["test_batch.bin"] = cifarRecords(9, nTest, func(r int) []byte { return []byte{byte(r % 10)} })
	return files
}

// cifar100Files: fine label (3r) % 100, coarse (fine/5).
func cifar100Files(nTrain, nTest int) map[string][]byte {
	lab := func(r int) []byte { fine := (3 * r) % 100; return []byte{byte(fine / 5), byte(fine)} }
	return map[string][]byte{
		"train.bin": cifarRecords(0, nTrain, lab),
		"test.bin":  cifarRecords(1, nTest, lab),
	}
}

func writeFiles(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// entry is one archive member, in order.
type entry struct {
	name string
	data []byte
}

func prefixed(prefix string, files map[string][]byte, order []string) []entry {
	var es []entry
	for _, n := range order {
		es = append(es, entry{prefix + n, files[n]})
	}
	return es
}

func tarBytes(t testing.TB, es []entry, gz bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	var tw *tar.Writer
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(&buf)
	}
	dirs := map[string]bool{}
	for _, e := range es {
		if d := filepath.Dir(e.name); d != "." && !dirs[d] {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(e.data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if gz {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func zipBytes(t testing.TB, es []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range es {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t testing.TB, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rgbPNG encodes a w×h image with pixel (x, y) = (x, y, seed) as PNG.
func rgbPNG(t testing.TB, w, h int, seed byte) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{byte(x * 5), byte(y * 3), seed, 255})
		}
	}
	return encodePNG(t, img)
}

// rgbJPEG encodes a smooth w×h colour image as JPEG.
func rgbJPEG(t testing.TB, w, h int, seed byte) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{byte(x * 2), byte(y * 2), seed, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// grayJPEG encodes a w×h greyscale JPEG.
func grayJPEG(t testing.TB, w, h int, v byte) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = v
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
