package loaders

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
)

// Fuzz targets for the readers of user files: CIFAR records, images, image
// archives, CIFAR archives.
//
//	go test -run '^$' -fuzz FuzzCIFARRecords -fuzztime 45s -parallel 1 ./loaders/
//	go test -run '^$' -fuzz FuzzDecodeImage  -fuzztime 45s -parallel 1 ./loaders/
//	go test -run '^$' -fuzz FuzzImageArchive -fuzztime 45s -parallel 1 ./loaders/
//	go test -run '^$' -fuzz FuzzCIFARArchive -fuzztime 45s -parallel 1 ./loaders/

// fuzzMaxPixels keeps fuzzed image headers from allocating much.
const fuzzMaxPixels = 1 << 16

func FuzzCIFARRecords(f *testing.F) {
	f.Add(cifarRecords(0, 2, func(r int) []byte { return []byte{byte(r)} }), false)
	f.Add(cifarRecords(0, 1, func(r int) []byte { return []byte{3, 17} }), true)
	f.Add([]byte{9, 1, 2, 3}, false)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, data []byte, hundred bool) {
		l := cifar10Layout
		if hundred {
			l = cifar100Layout
		}
		px, labels, err := l.readRecords(bytes.NewReader(data), "fuzz", nil, nil)
		if err != nil {
			return
		}
		rb := l.recordBytes()
		if len(labels)*rb != len(data) || len(px) != len(labels)*ImageBytes {
			t.Fatalf("%d bytes gave %d labels and %d pixel bytes", len(data), len(labels), len(px))
		}
		for i, lab := range labels {
			if lab < 0 || lab >= l.classes || lab != int(data[i*rb+l.labelBytes-1]) {
				t.Fatalf("record %d: label %d", i, lab)
			}
			if !bytes.Equal(px[i*ImageBytes:(i+1)*ImageBytes], data[i*rb+l.labelBytes:(i+1)*rb]) {
				t.Fatalf("record %d: pixels moved", i)
			}
		}
	})
}

func FuzzDecodeImage(f *testing.F) {
	f.Add(rgbPNG(f, 3, 5, 1))
	f.Add(rgbJPEG(f, 40, 33, 2))
	f.Add(grayJPEG(f, 8, 8, 100))
	var g bytes.Buffer
	gif.Encode(&g, image.NewPaletted(image.Rect(0, 0, 4, 4), color.Palette{color.Black, color.White}), nil)
	f.Add(g.Bytes())
	f.Add([]byte("P6\n1 1\n255\nabc"))
	// Pillow-written JPEGs with 4:4:4, 4:2:2 and 4:2:0 chroma.
	seeds, _ := filepath.Glob(filepath.Join("testdata", "pil", "*.jpg"))
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		im, err := decodeRGBLimit(data, fuzzMaxPixels)
		// Streaming in one-byte reads decodes the same.
		im2, err2 := decodeRGBReader(iotest.OneByteReader(bytes.NewReader(data)), fuzzMaxPixels)
		if (err == nil) != (err2 == nil) || err == nil && (im.w != im2.w || im.h != im2.h || !bytes.Equal(im.pix, im2.pix)) {
			t.Fatalf("from memory: %v; streamed: %v", err, err2)
		}
		if err != nil {
			return
		}
		if im.w <= 0 || im.h <= 0 || len(im.pix) != 3*im.w*im.h {
			t.Fatalf("%d×%d image with %d bytes", im.w, im.h, len(im.pix))
		}
		dst := make([]byte, ImageBytes)
		fitTo32(im, FitResize, nil, dst)
		fitTo32(im, FitCrop, newRand(1), dst)
	})
}

// FuzzImageArchive reads arbitrary bytes as an image archive (tar, tar.gz
// or zip) the way ReadImages does, with a resize and a seeded crop fit, and
// checks the streaming reader against decoding every image in the authors'
// order from memory, within lowered budgets.
func FuzzImageArchive(f *testing.F) {
	files := map[string][]byte{"test/a.png": rgbPNG(f, 4, 4, 1), "test/b.jpg": rgbJPEG(f, 40, 36, 2), "x.txt": []byte("x"), "test/c.png": rgbPNG(f, 50, 33, 3)}
	order := []string{"test/b.jpg", "x.txt", "test/c.png", "test/a.png"}
	f.Add(tarBytes(f, prefixed("Set/", files, order), true))
	f.Add(tarBytes(f, prefixed("", files, order), false))
	f.Add(zipBytes(f, prefixed("Set/", files, order)))
	whole := tarBytes(f, prefixed("Set/", files, order), false)
	f.Add(whole[:700])
	f.Add(tarBytes(f, []entry{{"big.png", make([]byte, 5000)}, {"s/ok.png", files["test/a.png"]}}, true))
	saved := archiveLimits
	archiveLimits = archiveBudget{members: 64, bytes: 1 << 20}
	f.Cleanup(func() { archiveLimits = saved })
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := newImageArchive("fuzz", bytes.NewReader(data), int64(len(data)), probeImage("fuzz", fuzzMaxPixels))
		if err != nil {
			return
		}
		set := archiveImages(a)
		set.maxPixels = fuzzMaxPixels
		set.entries = keepAuthorsRoot(set.entries)
		sortEntries(set.entries)
		for i, e := range set.entries {
			if i > 0 && (set.entries[i-1].dir > e.dir || set.entries[i-1].dir == e.dir && set.entries[i-1].base > e.base) {
				t.Fatalf("entries out of order: %q/%q before %q/%q", set.entries[i-1].dir, set.entries[i-1].base, e.dir, e.base)
			}
			if !isImageName(e.base) {
				t.Fatalf("non-image %q kept", e.base)
			}
		}
		ds, err := decodeEntries(nil, set, []fitSpec{{name: "r", fit: FitResize}, {name: "c", fit: FitCrop, seed: 3}}, nil, "")
		if err != nil {
			return
		}
		// The reference: each image read whole on its own, decoded and
		// fitted in the authors' order.
		rng := newRand(3)
		want := make([]byte, ImageBytes)
		for i, e := range set.entries {
			var raw []byte
			if err := a.read([]int{e.member}, func(_ int, r io.Reader) (err error) {
				raw, err = io.ReadAll(r)
				return err
			}); err != nil {
				t.Fatalf("%s: streaming read succeeded, whole read failed: %v", e.label, err)
			}
			im, err := decodeRGBLimit(raw, fuzzMaxPixels)
			if err != nil {
				t.Fatalf("%s: streaming decode succeeded, whole decode failed: %v", e.label, err)
			}
			fitTo32(im, FitResize, nil, want)
			if !bytes.Equal(ds[0].Image(i), want) {
				t.Fatalf("%s: resize differs from the in-order reference", e.label)
			}
			fitTo32(im, FitCrop, rng, want)
			if !bytes.Equal(ds[1].Image(i), want) {
				t.Fatalf("%s: crop differs from the in-order reference", e.label)
			}
		}
	})
}

// FuzzCIFARArchive reads arbitrary bytes as CIFAR-10's archive: errors, or
// whole records with labels in range.
func FuzzCIFARArchive(f *testing.F) {
	files := cifar10Files(2, 3)
	order := append(append([]string{}, cifar10Layout.train...), cifar10Layout.test)
	f.Add(tarBytes(f, prefixed("cifar-10-batches-bin/", files, order), true))
	f.Add(tarBytes(f, prefixed("cifar-10-batches-bin/", files, order), false))
	f.Add(zipBytes(f, prefixed("", files, order)))
	saved := archiveLimits
	archiveLimits = archiveBudget{members: 64, bytes: 1 << 20}
	f.Cleanup(func() { archiveLimits = saved })
	f.Fuzz(func(t *testing.T, data []byte) {
		train, test, err := cifar10Layout.readArchiveReader("fuzz", bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for _, d := range []*Dataset{train, test} {
			if err := d.Validate(); err != nil || d.Len() == 0 {
				t.Fatalf("%s: %d images: %v", d.Name, d.Len(), err)
			}
		}
	})
}
