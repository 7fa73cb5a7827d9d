package loaders

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestIJGTables: libjpeg's jpeg_quality_scaling by hand. Quality 50 is the
// Annex K tables unchanged (scale 100); quality 75 halves them (scale 50):
// (16·50 + 50)/100 = 8, (11·50 + 50)/100 = 6, (61·50 + 50)/100 = 31,
// (17·50 + 50)/100 = 9, (99·50 + 50)/100 = 50 — the first row of iSUN's
// tables; quality 100 gives all ones; quality 1 (scale 5000) clamps to 255.
func TestIJGTables(t *testing.T) {
	lum, chr := IJGTables(50)
	if lum != jpegStdLuminance || chr != jpegStdChrominance {
		t.Error("quality 50 is not Annex K")
	}
	lum, chr = IJGTables(75)
	if got := lum[:8]; !slices.Equal(got, []uint16{8, 6, 5, 8, 12, 20, 26, 31}) {
		t.Errorf("q75 luminance row 0 %v", got)
	}
	if got := chr[:8]; !slices.Equal(got, []uint16{9, 9, 12, 24, 50, 50, 50, 50}) {
		t.Errorf("q75 chrominance row 0 %v", got)
	}
	lum, _ = IJGTables(100)
	if slices.ContainsFunc(lum[:], func(v uint16) bool { return v != 1 }) {
		t.Errorf("q100 %v", lum)
	}
	lum, _ = IJGTables(1)
	if lum[0] != 255 || lum[1] != 255 {
		t.Errorf("q1 %v", lum[:2])
	}
}

// TestReadJPEGInfo reads the headers of JPEGs written by Pillow 9.4
// (testdata/pil, quality 90 with the subsampling in the name) and by the
// odin-resize round trip, and rejects broken files.
func TestReadJPEGInfo(t *testing.T) {
	for name, want := range map[string]string{
		"s444": "baseline 4:4:4, IJG tables at quality 90",
		"s422": "baseline 4:2:2, IJG tables at quality 90",
		"s420": "baseline 4:2:0, IJG tables at quality 90",
		"gray": "baseline grey, IJG tables at quality 90",
	} {
		data, err := os.ReadFile(filepath.Join("testdata", "pil", name+".jpg"))
		if err != nil {
			t.Fatal(err)
		}
		j, err := ReadJPEGInfo(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if j.String() != want || j.Width != 37 || j.Height != 29 || j.Precision != 8 {
			t.Errorf("%s: %q %d×%d, want %q 37×29", name, j, j.Width, j.Height, want)
		}
	}
	ours := encodePILJPEG(synthRGB(32, 32), 75)
	j, err := ReadJPEGInfo(ours)
	if err != nil || j.String() != "baseline 4:2:0, IJG tables at quality 75" {
		t.Errorf("odin-resize's JPEG: %q, %v", j, err)
	}
	if q := (JPEGInfo{Components: j.Components, Tables: map[int][64]uint16{0: j.Tables[0]}}).IJGQuality(); q != 0 {
		t.Errorf("a missing chrominance table matched quality %d", q)
	}
	for _, bad := range []struct {
		data []byte
		err  string
	}{
		{[]byte("GIF89a"), "no SOI"},
		{ours[:20], "overruns"},
		{[]byte{0xFF, 0xD8, 0xFF, 0xD9}, "EOI before any scan"},
		{[]byte{0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x05, 0x00, 1, 2}, "malformed DQT"},
		{[]byte{0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02}, "before any frame"},
	} {
		if _, err := ReadJPEGInfo(bad.data); err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("% x: error %v, want %q", bad.data[:min(8, len(bad.data))], err, bad.err)
		}
	}
}

// FuzzReadJPEGInfo: the header reader never panics and, when it accepts a
// file, reports a frame with components whose sampling factors and table
// slots fit in their 4-bit fields.
//
//	go test -run '^$' -fuzz FuzzReadJPEGInfo -fuzztime 45s -parallel 1 ./loaders/
func FuzzReadJPEGInfo(f *testing.F) {
	f.Add(encodePILJPEG(synthRGB(16, 16), 75))
	for _, name := range []string{"s444", "gray"} {
		if data, err := os.ReadFile(filepath.Join("testdata", "pil", name+".jpg")); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x43, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := ReadJPEGInfo(data)
		if err != nil {
			return
		}
		if len(j.Components) == 0 {
			t.Fatal("accepted a file without frame components")
		}
		for _, c := range j.Components {
			if c.H > 15 || c.V > 15 || c.Table > 255 {
				t.Fatalf("component %+v", c)
			}
		}
		_ = j.String()
	})
}
