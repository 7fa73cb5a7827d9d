package loaders

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"os"
	"path/filepath"
	"testing"
)

// Fuzz targets for the three decoders: CIFAR records, images, archives.
//
//	go test -run '^$' -fuzz FuzzCIFARRecords -fuzztime 45s -parallel 1 ./loaders/
//	go test -run '^$' -fuzz FuzzDecodeImage  -fuzztime 45s -parallel 1 ./loaders/
//	go test -run '^$' -fuzz FuzzImageArchive -fuzztime 45s -parallel 1 ./loaders/

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

func FuzzImageArchive(f *testing.F) {
	files := map[string][]byte{"test/a.png": rgbPNG(f, 4, 4, 1), "test/b.jpg": rgbJPEG(f, 8, 8, 2), "x.txt": []byte("x")}
	order := []string{"test/b.jpg", "x.txt", "test/a.png"}
	f.Add(tarBytes(f, prefixed("Set/", files, order), true))
	f.Add(tarBytes(f, prefixed("", files, order), false))
	f.Add(zipBytes(f, prefixed("Set/", files, order)))
	whole := tarBytes(f, prefixed("Set/", files, order), false)
	f.Add(whole[:700])
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := listArchiveReader("fuzz", bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		entries = keepAuthorsRoot(entries)
		sortEntries(entries)
		for i, e := range entries {
			if i > 0 && (entries[i-1].dir > e.dir || entries[i-1].dir == e.dir && entries[i-1].base > e.base) {
				t.Fatalf("entries out of order: %q/%q before %q/%q", entries[i-1].dir, entries[i-1].base, e.dir, e.base)
			}
			if !isImageName(e.base) {
				t.Fatalf("non-image %q kept", e.base)
			}
			im, err := decodeRGBLimit(e.data, fuzzMaxPixels)
			if err == nil {
				fitTo32(im, FitResize, nil, make([]byte, ImageBytes))
			}
		}
	})
}
