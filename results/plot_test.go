package results

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// gaussians returns n draws of N(mean, sd) from a seeded generator.
func gaussians(seed uint64, n int, mean, sd float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]float64, n)
	for k := range out {
		out[k] = mean + sd*rng.NormFloat64()
	}
	return out
}

// decodePNG checks that b is a PNG of the given size.
func decodePNG(t *testing.T, b []byte, width, height int) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if got := img.Bounds().Size(); got != (image.Point{X: width, Y: height}) {
		t.Errorf("PNG size %v, want %dx%d", got, width, height)
	}
	return img
}

func TestHistogramPNG(t *testing.T) {
	// MCD-like scores: negated discrepancies, small for ID, large for OOD.
	id, ood := gaussians(1, 500, -0.1, 0.05), gaussians(2, 400, -1.2, 0.3)
	for k := range ood {
		ood[k] = max(ood[k], -2) // a discrepancy is at most 2
	}
	r := cell{id: "cifar10", network: "densenet-bc-100", ood: "tinyimagenet-crop", method: "mcd", seed: 1}.record()
	cases := []struct {
		name          string
		plot          HistogramPlot
		opts          PlotOptions
		width, height int
	}{
		{"mcd discrepancy", HistogramOf(r, id, ood), PlotOptions{}, 720, 480},
		{"raw score, small", HistogramPlot{Title: "msp", Axis: ScoreAxisOf("msp"), ID: id, OOD: ood}, PlotOptions{Width: 300, Height: 200, Bins: 7}, 300, 200},
		{"all equal", HistogramPlot{Axis: ScoreAxisOf("msp"), ID: []float64{1}, OOD: []float64{1}}, PlotOptions{Width: 200, Height: 200}, 200, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := c.plot.WritePNG(&b, c.opts); err != nil {
				t.Fatal(err)
			}
			decodePNG(t, b.Bytes(), c.width, c.height)
		})
	}
	if ax := HistogramOf(r, id, ood).Axis; !ax.Negate || ax.Min != 0 || ax.Max != 2 {
		t.Errorf("MCD axis %+v, want the discrepancy on [0, 2]", ax)
	}
}

// Each histogram is a density: the bars' area is 1, whatever the set size.
func TestDensityBins(t *testing.T) {
	bins := densityBins([]float64{0, 0.1, 0.5, 1.9, 2, 5, -1}, 0, 2, 4)
	area, counts := 0.0, []float64{}
	for _, b := range bins {
		area += b.Weight * (b.Max - b.Min)
		counts = append(counts, b.Weight*7*0.5)
	}
	// -1, 0, 0.1 in the first bin; 0.5 in the second; 1.9, 2 and 5 in the last.
	want := []float64{3, 1, 0, 3}
	for k := range want {
		if math.Abs(counts[k]-want[k]) > 1e-12 {
			t.Errorf("bin %d holds %v scores, want %v", k, counts[k], want[k])
		}
	}
	if math.Abs(area-1) > 1e-12 {
		t.Errorf("area %v, want 1", area)
	}
}

func TestROCPNG(t *testing.T) {
	id := gaussians(3, 300, 1, 1)
	p := ROCPlot{Title: "cifar10 vs isun", Series: []ROCSeries{
		{Label: "msp", ID: id, OOD: gaussians(4, 200, 0, 1)},
		{Label: "mcd", ID: id, OOD: gaussians(5, 200, -2, 1)},
	}}
	path := filepath.Join(t.TempDir(), "plots", "roc.png")
	if err := WritePlotFile(path, p, PlotOptions{Width: 400, Height: 300}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	decodePNG(t, b, 400, 300)
}

func TestPlotErrors(t *testing.T) {
	ok := []float64{1, 2}
	cases := []struct {
		name string
		plot PNGPlot
		opts PlotOptions
		want string
	}{
		{"no ID scores", HistogramPlot{OOD: ok}, PlotOptions{}, "no ID scores"},
		{"NaN", HistogramPlot{ID: ok, OOD: []float64{math.NaN()}}, PlotOptions{}, "OOD score 0 (0-based) is NaN"},
		{"negative size", HistogramPlot{ID: ok, OOD: ok}, PlotOptions{Width: -1, Height: 10}, "plot size"},
		{"huge", HistogramPlot{ID: ok, OOD: ok}, PlotOptions{Width: 100000, Height: 10}, "plot size"},
		{"bins", HistogramPlot{ID: ok, OOD: ok}, PlotOptions{Bins: -3}, "histogram bins"},
		{"no curves", ROCPlot{Title: "x"}, PlotOptions{}, "no curves"},
		{"empty curve", ROCPlot{Series: []ROCSeries{{Label: "msp", ID: ok}}}, PlotOptions{}, "msp"},
		{"infinite", ROCPlot{Series: []ROCSeries{{Label: "odin", ID: []float64{math.Inf(-1)}, OOD: ok}}}, PlotOptions{}, "odin"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "p.png")
			err := WritePlotFile(path, c.plot, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
			if _, err := os.Stat(path); err == nil {
				t.Error("a failed plot left a file")
			}
		})
	}
}
