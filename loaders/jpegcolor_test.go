package loaders

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
)

// TestLibjpegColourTables: jdcolor.c by hand. FIX(1.40200) = 91881,
// FIX(1.77200) = 116130, FIX(0.71414) = 46802, FIX(0.34414) = 22554.
//
//	cr = 255 (x = 127): R = y + (91881·127 + 32768) >> 16 = y + 178
//	cb = 0 (x = −128):  B = y + (116130·(−128) + 32768) >> 16 = y − 227 (floor)
//	cb = cr = 128:      grey
//	y = 100, cb = 0, cr = 255: G = 100 + ((22554·128 + 32768) − 46802·127) >> 16
//	                           = 100 + (−3,024,174 >> 16) = 100 − 47 = 53
func TestLibjpegColourTables(t *testing.T) {
	for _, tc := range []struct {
		y, cb, cr byte
		want      [3]byte
	}{
		{128, 128, 128, [3]byte{128, 128, 128}},
		{0, 128, 255, [3]byte{178, 0, 0}},    // G = 0 + (32768 − 46802·127) >> 16 = −91 → 0
		{255, 0, 128, [3]byte{255, 255, 28}}, // G = 255 + (22554·128 + 32768) >> 16 = 255 + 44 → 255
		{100, 0, 255, [3]byte{255, 53, 0}},
	} {
		r, g, b := libjpegRGB(tc.y, tc.cb, tc.cr)
		if got := [3]byte{r, g, b}; got != tc.want {
			t.Errorf("Y %d Cb %d Cr %d → %v, want %v", tc.y, tc.cb, tc.cr, got, tc.want)
		}
	}
}

// TestJPEGMatchesPillow decodes JPEGs that Pillow 9.4 (Debian python3-pil,
// libjpeg-turbo) wrote with 4:4:4, 4:2:2 and 4:2:0 chroma subsampling and a
// greyscale one, 37×29 so that chroma edges are odd, and compares with
// Pillow's own decoding (testdata/pil/*.rgb, np.asarray(Image.open(f).
// convert('RGB'))). The upsampling and colour conversion are libjpeg's; the
// IDCTs differ, so a few pixels are off by up to 3 levels. With
// image.YCbCr's nearest-neighbour chroma, 4:2:0 is off by far more.
func TestJPEGMatchesPillow(t *testing.T) {
	for _, name := range []string{"s444", "s422", "s420", "gray"} {
		data, err := os.ReadFile(filepath.Join("testdata", "pil", name+".jpg"))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("testdata", "pil", name+".rgb"))
		if err != nil {
			t.Fatal(err)
		}
		im := mustDecode(t, data)
		if im.w != 37 || im.h != 29 {
			t.Fatalf("%s: %d×%d", name, im.w, im.h)
		}
		maxd, sum := pixelDiff(im.pix, want)
		if mean := float64(sum) / float64(len(want)); maxd > 3 || mean > 0.25 {
			t.Errorf("%s: differs from Pillow by up to %d (mean %.3f), want ≤ 3 (mean ≤ 0.25)", name, maxd, mean)
		}
		if name == "s420" {
			img, _ := jpeg.Decode(bytes.NewReader(data))
			m := img.(*image.YCbCr)
			naive := make([]byte, 0, len(want))
			for y := 0; y < 29; y++ {
				for x := 0; x < 37; x++ {
					r, g, b := color.YCbCrToRGB(m.Y[m.YOffset(x, y)], m.Cb[m.COffset(x, y)], m.Cr[m.COffset(x, y)])
					naive = append(naive, r, g, b)
				}
			}
			if nd, _ := pixelDiff(naive, want); nd <= 3 {
				t.Errorf("nearest-neighbour chroma is within %d of Pillow: the test does not discriminate", nd)
			}
		}
	}
}

func pixelDiff(a, b []byte) (maxd, sum int) {
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d < 0 {
			d = -d
		}
		sum += d
		maxd = max(maxd, d)
	}
	return maxd, sum
}

// TestFancyUpsamplingByHand checks the three upsamplers on 2-sample chroma
// planes, against libjpeg's formulas written out:
//
//	h2v1 (4:2:2), samples 0, 100 in one row → 0, (0·3+100+2)>>2 = 25,
//	  (100·3+0+1)>>2 = 75, 100
//	h1v2 (4:4:0), samples 0 over 100 → rows (0·3+0+1)>>2 = 0,
//	  (0·3+100+2)>>2 = 25, (100·3+0+1)>>2 = 75, (100·3+100+2)>>2 = 100
//	h2v2 (4:2:0), a 2×1 plane 0, 100 → each output row: colsums 0·4 = 0
//	  and 100·4 = 400 (the row above/below repeats the edge row), then
//	  (0·4+8)>>4 = 0, (0·3+400+7)>>4 = 25, (400·3+0+8)>>4 = 75,
//	  (400·4+7)>>4 = 100
func TestFancyUpsamplingByHand(t *testing.T) {
	for _, tc := range []struct {
		name           string
		src            []byte
		stride, cw, ch int
		hs, vs, w, h   int
		want           []byte
	}{
		{"h2v1", []byte{0, 100}, 2, 2, 1, 2, 1, 4, 1, []byte{0, 25, 75, 100}},
		{"h1v2", []byte{0, 100}, 1, 1, 2, 1, 2, 1, 4, []byte{0, 25, 75, 100}},
		{"h2v2", []byte{0, 100}, 2, 2, 1, 2, 2, 4, 2, []byte{0, 25, 75, 100, 0, 25, 75, 100}},
		{"h2v2 odd width", []byte{0, 100}, 2, 2, 1, 2, 2, 3, 1, []byte{0, 25, 75}},
		{"h2v2 one sample", []byte{200}, 1, 1, 1, 2, 2, 2, 2, []byte{200, 200, 200, 200}},
	} {
		got := upsampleFancy(tc.src, tc.stride, tc.cw, tc.ch, tc.hs, tc.vs, tc.w, tc.h)
		if !bytes.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
