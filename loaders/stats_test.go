package loaders

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// TestHighFrequencyEnergy by hand: a flat image gives 0; a single bright
// pixel of grey value 100 in the middle gives |−400| at itself and 100 at its
// four neighbours, all interior: (400 + 4·100)/900 = 0.8889; a vertical
// stripe pattern (columns alternately 0 and 255, grey R = G = B) gives
// |2·255| at every interior pixel: 510.
func TestHighFrequencyEnergy(t *testing.T) {
	img := make([]byte, ImageBytes)
	if e := HighFrequencyEnergy(img); e != 0 {
		t.Errorf("flat: %v", e)
	}
	for c := 0; c < Channels; c++ {
		img[c*PlaneBytes+16*Side+16] = 100
	}
	if e := HighFrequencyEnergy(img); math.Abs(e-800.0/900) > 1e-12 {
		t.Errorf("one pixel: %v, want %v", e, 800.0/900)
	}
	for i := range img {
		img[i] = byte(255 * ((i % Side) % 2))
	}
	if e := HighFrequencyEnergy(img); e != 510 {
		t.Errorf("stripes: %v, want 510", e)
	}
	// PIL's grey: (19595·255 + 2¹⁵) >> 16 = 76 for pure red.
	if g := pilGrey(255, 0, 0); g != 76 {
		t.Errorf("grey of red %d, want 76", g)
	}
	if e := hfEnergyRGB(rgbImage{w: 2, h: 5, pix: make([]byte, 30)}); !math.IsNaN(e) {
		t.Errorf("2×5 image: %v, want NaN", e)
	}
}

// TestSummarizeHF: quantiles interpolate as numpy's: for 1, 2, 3, 4, 5 the
// 0.25 quantile is at position 1 (2), the 0.05 quantile at 0.2 (1.2); NaN is
// left out.
func TestSummarizeHF(t *testing.T) {
	s := SummarizeHF([]float64{5, math.NaN(), 3, 1, 4, 2})
	want := HFStats{N: 5, Mean: 3, Min: 1, P5: 1.2, P25: 2, P50: 3, P75: 4, P95: 4.8, Max: 5}
	for _, p := range []*float64{&s.P5, &s.P95} {
		*p = math.Round(*p*1e9) / 1e9
	}
	if s != want {
		t.Errorf("%+v, want %+v", s, want)
	}
	if e := SummarizeHF(nil); e.N != 0 {
		t.Errorf("empty: %+v", e)
	}
}

// TestInspectImages reads a folder (a colour JPEG, a grey JPEG, a PNG, a
// file that is not an image), a single file and an archive: sizes, headers,
// the energy at the image's own size and, with a fit, at 32×32.
func TestInspectImages(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{
		"set/a.jpg":     rgbJPEG(t, 40, 36, 7),
		"set/b.jpg":     grayJPEG(t, 20, 20, 90),
		"set/c.png":     rgbPNG(t, 8, 2, 1),
		"set/notes.txt": []byte("skipped"),
	}
	writeFiles(t, dir, files)
	infos, err := InspectImages(filepath.Join(dir, "set"), InspectOptions{Fit: FitODINResize})
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 3 {
		t.Fatalf("%d images, want 3", len(infos))
	}
	a, b, c := infos[0], infos[1], infos[2]
	if a.Width != 40 || a.Height != 36 || a.JPEG == nil || a.JPEG.String() != "baseline 4:2:0, IJG tables at quality 90" || !strings.HasSuffix(a.Source, "a.jpg") {
		t.Errorf("a.jpg: %+v %v", a, a.JPEG)
	}
	if b.JPEG == nil || b.JPEG.Subsampling() != "grey" || b.HFEnergy != 0 || b.HFEnergy32 != 0 {
		t.Errorf("b.jpg (flat grey): %+v %v", b, b.JPEG)
	}
	if c.JPEG != nil || c.Width != 8 || c.Height != 2 || !math.IsNaN(c.HFEnergy) || math.IsNaN(c.HFEnergy32) {
		t.Errorf("c.png (8×2: no interior pixel at its own size, 32×32 after the fit): %+v", c)
	}
	one, err := InspectImages(filepath.Join(dir, "set", "a.jpg"), InspectOptions{})
	if err != nil || len(one) != 1 || one[0].HFEnergy != a.HFEnergy || !math.IsNaN(one[0].HFEnergy32) {
		t.Errorf("single file: %+v, %v", one, err)
	}
	arch := filepath.Join(dir, "set.tar.gz")
	writeFile(t, arch, tarBytes(t, prefixed("set/", map[string][]byte{"a.jpg": files["set/a.jpg"]}, []string{"a.jpg"}), true))
	if got, err := InspectImages(arch, InspectOptions{}); err != nil || len(got) != 1 || got[0].Source != arch+":set/a.jpg" || got[0].HFEnergy != a.HFEnergy {
		t.Errorf("archive: %+v, %v", got, err)
	}
	writeFiles(t, dir, map[string][]byte{"set/d.jpg": []byte("broken")})
	if _, err := InspectImages(filepath.Join(dir, "set"), InspectOptions{}); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "set", "d.jpg")+": decode") {
		t.Errorf("broken file: %v", err)
	}
	if _, err := InspectImages(dir, InspectOptions{Fit: "stretch"}); err == nil || !strings.Contains(err.Error(), "unknown fit") {
		t.Errorf("bad fit: %v", err)
	}
}
