package loaders

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"strings"
	"testing"
)

// synthRGB is a deterministic noisy test image; pilref.py in the comment of
// TestResizeMatchesPillow computes the same pixels with numpy.
func synthRGB(w, h int) rgbImage {
	im := rgbImage{w: w, h: h, pix: make([]byte, 3*w*h)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				v := uint32(x)*73856093 ^ uint32(y)*19349663 ^ uint32(c)*83492791
				v *= 2654435761
				im.pix[3*(y*w+x)+c] = byte(v >> 13)
			}
		}
	}
	return im
}

// TestResizeMatchesPillow checks FitResize against Pillow 9.4 (Debian
// python3-pil) doing what torchvision 0.3's Resize(32) and CenterCrop(32) do:
//
//	M = 0xFFFFFFFF
//	v = ((x*73856093)&M) ^ ((y*19349663)&M) ^ ((c*83492791)&M)
//	a[y, x, c] = (((v*2654435761)&M) >> 13) & 0xFF
//	w, h = img.size
//	if (w <= h and w == 32) or (h <= w and h == 32): r = img
//	elif w < h: r = img.resize((32, int(32*h/w)), Image.BILINEAR)
//	else:       r = img.resize((int(32*w/h), 32), Image.BILINEAR)
//	t = int(round((H-32)/2.)); l = int(round((W-32)/2.))
//	sha256(np.asarray(r.crop((l, t, l+32, t+32))).transpose(2, 0, 1).tobytes())
//
// The cases cover 2× and odd downscaling, upscaling, tall and wide images,
// and an image whose shorter side is already 32 (passed unchanged; Python's
// round(0.5) = 0 picks the left window).
func TestResizeMatchesPillow(t *testing.T) {
	for _, tc := range []struct {
		w, h   int
		rw, rh int // size after Resize(32)
		sha    string
		first  [3]byte // pixel (0, 0) of the crop
		last   [3]byte // pixel (31, 31)
	}{
		{64, 64, 32, 32, "29533035088f9655", [3]byte{105, 157, 158}, [3]byte{116, 55, 169}},
		{45, 37, 38, 32, "f0103aebc9110a6c", [3]byte{142, 70, 128}, [3]byte{113, 159, 95}},
		{100, 33, 96, 32, "83c84180e4ae6e0e", [3]byte{86, 205, 72}, [3]byte{135, 153, 144}},
		{33, 32, 33, 32, "fb01715b23a5aca8", [3]byte{0, 66, 132}, [3]byte{71, 90, 125}},
		{32, 32, 32, 32, "fb01715b23a5aca8", [3]byte{0, 66, 132}, [3]byte{71, 90, 125}},
		{20, 50, 32, 80, "18ded481f8d064d4", [3]byte{55, 54, 38}, [3]byte{61, 194, 65}},
		{36, 36, 32, 32, "7bb9e4ee34dd256f", [3]byte{36, 104, 138}, [3]byte{146, 193, 153}},
		{500, 375, 42, 32, "05b405c8c1ebea1d", [3]byte{131, 123, 122}, [3]byte{127, 132, 138}},
		{31, 31, 32, 32, "3d29ea894c49c9eb", [3]byte{0, 66, 132}, [3]byte{52, 245, 208}},
		{37, 300, 32, 259, "6ff96ea32806a7f9", [3]byte{89, 165, 74}, [3]byte{47, 197, 194}},
	} {
		im := synthRGB(tc.w, tc.h)
		r := resizeShorter(im, Side)
		if r.w != tc.rw || r.h != tc.rh {
			t.Errorf("%d×%d: resized to %d×%d, want %d×%d", tc.w, tc.h, r.w, r.h, tc.rw, tc.rh)
		}
		dst := make([]byte, ImageBytes)
		fitTo32(im, FitResize, nil, dst)
		sum := sha256.Sum256(dst)
		if got := hex.EncodeToString(sum[:])[:16]; got != tc.sha {
			t.Errorf("%d×%d: sha256 %s, want %s (Pillow)", tc.w, tc.h, got, tc.sha)
		}
		px := func(o int) [3]byte { return [3]byte{dst[o], dst[PlaneBytes+o], dst[2*PlaneBytes+o]} }
		if got := px(0); got != tc.first {
			t.Errorf("%d×%d: pixel (0,0) %v, want %v", tc.w, tc.h, got, tc.first)
		}
		if got := px(PlaneBytes - 1); got != tc.last {
			t.Errorf("%d×%d: pixel (31,31) %v, want %v", tc.w, tc.h, got, tc.last)
		}
	}
}

// TestBilinearHalfWeights: halving with PIL's bilinear filter weights four
// input pixels 1/8, 3/8, 3/8, 1/8 (triangle of support 2 centred between
// pixels 2i and 2i+1); for the row 0, 80, 160, 240, 0, 0 … output 0 is
// (0·3 + 80·3 + 160·1)/8 = 50 (the left tap falls outside and the weights
// renormalise to 3/7, 3/7, 1/7: (0·3+80·3+160)/7 = 57.14 → 57).
func TestBilinearHalfWeights(t *testing.T) {
	im := rgbImage{w: 8, h: 1, pix: make([]byte, 3*8)}
	for x, v := range []byte{0, 80, 160, 240, 0, 0, 0, 0} {
		im.pix[3*x], im.pix[3*x+1], im.pix[3*x+2] = v, v, v
	}
	out := pilResizeBilinear(im, 4, 1)
	// Output 0: inputs 0,1,2 with weights 3/4, 3/4, 1/4 normalised (7/4):
	// (0·0.75 + 80·0.75 + 160·0.25)/1.75 = 57.14 → 57.
	// Output 1: inputs 1..4 weights 1/8,3/8,3/8,1/8: 10+60+90+0 = 160.
	want := []byte{57, 160}
	for i, w := range want {
		if got := out.pix[3*i]; got != w {
			t.Errorf("output %d = %d, want %d", i, got, w)
		}
	}
}

func TestCropIsSeededWindow(t *testing.T) {
	im := synthRGB(64, 64)
	a := make([]byte, ImageBytes)
	b := make([]byte, ImageBytes)
	fitTo32(im, FitCrop, rand.New(rand.NewPCG(7, 0)), a)
	fitTo32(im, FitCrop, rand.New(rand.NewPCG(7, 0)), b)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed, different crops")
	}
	// The crop is a window of the original: find its offset from the
	// generator directly.
	rng := rand.New(rand.NewPCG(7, 0))
	top, left := rng.IntN(33), rng.IntN(33)
	for y := 0; y < Side; y++ {
		for x := 0; x < Side; x++ {
			for c := 0; c < 3; c++ {
				if got, want := a[c*PlaneBytes+y*Side+x], im.pix[3*((top+y)*64+left+x)+c]; got != want {
					t.Fatalf("pixel (%d,%d,%d) = %d, want %d from window at (%d,%d)", x, y, c, got, want, left, top)
				}
			}
		}
	}
}

func TestDecodeRGBConversions(t *testing.T) {
	// Grey PNG becomes three equal channels.
	g := image.NewGray(image.Rect(0, 0, 2, 1))
	g.Pix[0], g.Pix[1] = 10, 200
	im := mustDecode(t, encodePNG(t, g))
	if !bytes.Equal(im.pix, []byte{10, 10, 10, 200, 200, 200}) {
		t.Errorf("grey → %v", im.pix)
	}
	// Alpha is dropped, not composited (PIL convert('RGB')).
	n := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	n.Pix = []byte{100, 50, 25, 0}
	im = mustDecode(t, encodePNG(t, n))
	if !bytes.Equal(im.pix, []byte{100, 50, 25}) {
		t.Errorf("NRGBA → %v", im.pix)
	}
	// Paletted keeps its colours.
	p := image.NewPaletted(image.Rect(0, 0, 2, 1), color.Palette{color.RGBA{1, 2, 3, 255}, color.RGBA{4, 5, 6, 255}})
	p.Pix = []byte{1, 0}
	im = mustDecode(t, encodePNG(t, p))
	if !bytes.Equal(im.pix, []byte{4, 5, 6, 1, 2, 3}) {
		t.Errorf("paletted → %v", im.pix)
	}
	// 16-bit keeps the high byte.
	g16 := image.NewGray16(image.Rect(0, 0, 1, 1))
	g16.SetGray16(0, 0, color.Gray16{Y: 0xAB12})
	im = mustDecode(t, encodePNG(t, g16))
	if !bytes.Equal(im.pix, []byte{0xAB, 0xAB, 0xAB}) {
		t.Errorf("gray16 → %v", im.pix)
	}
	// A grey JPEG decodes to equal channels.
	gj := image.NewGray(image.Rect(0, 0, 8, 8))
	for i := range gj.Pix {
		gj.Pix[i] = 128
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, gj, nil); err != nil {
		t.Fatal(err)
	}
	im = mustDecode(t, buf.Bytes())
	if im.pix[0] != im.pix[1] || im.pix[1] != im.pix[2] || im.pix[0] < 126 || im.pix[0] > 130 {
		t.Errorf("grey JPEG → %v", im.pix[:3])
	}
}

func TestDecodeRGBErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"text", []byte("hello, world"), "not a JPEG, PNG"},
		{"ppm", []byte("P6\n2 2\n255\n...."), "PPM/PGM"},
		{"truncated png", encodePNG(t, image.NewGray(image.Rect(0, 0, 40, 40)))[:60], "png"},
		{"huge header", hugePNGHeader(), "pixels"},
		// Found by FuzzDecodeImage: a GIF whose first frame is empty
		// (48×0) under a 12,336×4 screen; fitting it divided by zero.
		{"empty GIF frame", []byte("GIF87a00\x04\x00\x8000000000,0 \x00\x000\x00\x00\x000\x04\x00"), "gif image decodes to 48×0 pixels"},
	} {
		_, err := decodeRGB(tc.data)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

// hugePNGHeader is a PNG signature and IHDR claiming 100,000×100,000 pixels.
func hugePNGHeader() []byte {
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)))
	b := buf.Bytes()
	// IHDR: type at 12, width and height at 16 and 20, CRC over type and
	// data at 29.
	for _, off := range []int{16, 20} {
		b[off], b[off+1], b[off+2], b[off+3] = 0, 1, 0x86, 0xa0
	}
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func mustDecode(t *testing.T, data []byte) rgbImage {
	t.Helper()
	im, err := decodeRGB(data)
	if err != nil {
		t.Fatal(err)
	}
	return im
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestParseFit(t *testing.T) {
	for _, s := range []string{"resize", "crop"} {
		if f, err := ParseFit(s); err != nil || string(f) != s {
			t.Errorf("ParseFit(%q) = %q, %v", s, f, err)
		}
	}
	if _, err := ParseFit("stretch"); err == nil {
		t.Error("ParseFit(stretch) succeeded")
	}
}
