package results

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/mcdood/mcdood/internal/atomicfile"
	"github.com/mcdood/mcdood/metrics"
)

// PlotOptions size the PNG plots. The zero value is 720×480 pixels and 50
// histogram bins.
type PlotOptions struct {
	Width, Height int // pixels
	Bins          int // histogram bins
}

// The defaults of PlotOptions, and the largest plot accepted.
const (
	defaultPlotWidth  = 720
	defaultPlotHeight = 480
	defaultBins       = 50
	maxPlotSide       = 8000
	plotDPI           = 96
)

func (o PlotOptions) withDefaults() (PlotOptions, error) {
	if o.Width == 0 && o.Height == 0 {
		o.Width, o.Height = defaultPlotWidth, defaultPlotHeight
	}
	if o.Bins == 0 {
		o.Bins = defaultBins
	}
	if o.Width < 1 || o.Height < 1 || o.Width > maxPlotSide || o.Height > maxPlotSide {
		return o, fmt.Errorf("plot size %d×%d pixels outside 1…%d", o.Width, o.Height, maxPlotSide)
	}
	if o.Bins < 1 || o.Bins > 10000 {
		return o, fmt.Errorf("%d histogram bins outside 1…10000", o.Bins)
	}
	return o, nil
}

// ScoreAxis says how a detector's scores are shown on a histogram.
type ScoreAxis struct {
	Label  string
	Negate bool    // plot −score
	Min    float64 // the axis range; Min == Max: the data's range
	Max    float64
}

// ScoreAxisOf is the histogram axis of a detector's scores: for MCD the
// discrepancy, the negated score, on its range [0, 2] (the L1 distance of
// two probability vectors), as in Yu & Aizawa, ICCV 2019, Figure 4; for
// every other detector the score itself (higher means more
// in-distribution) on the data's range.
func ScoreAxisOf(detector string) ScoreAxis {
	if detector == "mcd" {
		return ScoreAxis{Label: "discrepancy (L1 distance of the two heads' softmax outputs)", Negate: true, Min: 0, Max: 2}
	}
	return ScoreAxis{Label: "score (higher = more in-distribution)"}
}

// HistogramPlot is the paper's Figure 4 (Yu & Aizawa, ICCV 2019): the
// distribution of a detector's score on the ID test images and on the OOD
// test images, overlaid, each normalised to unit area (a density), so sets
// of different sizes compare.
type HistogramPlot struct {
	Title             string
	Axis              ScoreAxis
	IDLabel, OODLabel string
	ID, OOD           []float64
}

// HistogramOf is the histogram plot of a record's test scores.
func HistogramOf(r *Record, id, ood []float64) HistogramPlot {
	det := r.Detector
	if det == "" {
		det = r.Method
	}
	return HistogramPlot{
		Title:    fmt.Sprintf("%s on %s vs %s · %s · %s, seed %d", r.Method, r.ID, r.OOD, r.Network, r.Setting, r.Seed),
		Axis:     ScoreAxisOf(det),
		IDLabel:  fmt.Sprintf("ID test: %s (%d)", r.ID, len(id)),
		OODLabel: fmt.Sprintf("OOD test: %s (%d)", r.OOD, len(ood)),
		ID:       id,
		OOD:      ood,
	}
}

// WritePNG draws the histograms as a PNG image. Empty or non-finite scores
// are errors.
func (h HistogramPlot) WritePNG(w io.Writer, opts PlotOptions) error {
	opts, err := opts.withDefaults()
	if err != nil {
		return err
	}
	if err := checkScores(h.ID, h.OOD); err != nil {
		return fmt.Errorf("histogram %q: %w", h.Title, err)
	}
	id, ood := h.ID, h.OOD
	if h.Axis.Negate {
		id, ood = negated(id), negated(ood)
	}
	lo, hi := h.Axis.Min, h.Axis.Max
	if lo == hi {
		lo, hi = math.Inf(1), math.Inf(-1)
		for _, set := range [][]float64{id, ood} {
			for _, v := range set {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
		if lo == hi {
			lo, hi = lo-0.5, hi+0.5
		}
	}
	p := plot.New()
	p.Title.Text = h.Title
	p.X.Label.Text = h.Axis.Label
	p.Y.Label.Text = "density"
	p.X.Min, p.X.Max = lo, hi
	p.Legend.Top = true
	for _, set := range []struct {
		label  string
		scores []float64
		fill   color.Color
	}{
		{h.IDLabel, id, color.NRGBA{R: 31, G: 119, B: 180, A: 140}},
		{h.OODLabel, ood, color.NRGBA{R: 214, G: 39, B: 40, A: 140}},
	} {
		hist := &plotter.Histogram{
			Bins:      densityBins(set.scores, lo, hi, opts.Bins),
			Width:     (hi - lo) / float64(opts.Bins),
			FillColor: set.fill,
			LineStyle: draw.LineStyle{Color: color.NRGBA{A: 0}, Width: 0},
		}
		p.Add(hist)
		p.Legend.Add(set.label, hist)
	}
	return drawPNG(w, p, opts)
}

// densityBins counts scores in n equal bins over [lo, hi] (values outside
// go to the end bins) and scales the counts to unit area.
func densityBins(scores []float64, lo, hi float64, n int) []plotter.HistogramBin {
	width := (hi - lo) / float64(n)
	bins := make([]plotter.HistogramBin, n)
	for k := range bins {
		bins[k].Min, bins[k].Max = lo+float64(k)*width, lo+float64(k+1)*width
	}
	for _, v := range scores {
		k := int(math.Floor((v - lo) / width))
		bins[min(max(k, 0), n-1)].Weight++
	}
	for k := range bins {
		bins[k].Weight /= float64(len(scores)) * width
	}
	return bins
}

func negated(s []float64) []float64 {
	out := make([]float64, len(s))
	for k, v := range s {
		out[k] = -v
	}
	return out
}

// ROCSeries is one method's scores on one ID/OOD pair.
type ROCSeries struct {
	Label   string
	ID, OOD []float64
}

// ROCPlot is the receiver operating characteristic of several methods on
// one (ID set, network, OOD set, setting): true positive rate (ID accepted)
// against false positive rate (OOD accepted), ID the positive class, one
// curve per method with its AUROC in the legend.
type ROCPlot struct {
	Title  string
	Series []ROCSeries
}

// WritePNG draws the curves (metrics.ROC) as a PNG image. No series, or
// empty or non-finite scores, are errors.
func (r ROCPlot) WritePNG(w io.Writer, opts PlotOptions) error {
	opts, err := opts.withDefaults()
	if err != nil {
		return err
	}
	if len(r.Series) == 0 {
		return fmt.Errorf("ROC plot %q: no curves", r.Title)
	}
	p := plot.New()
	p.Title.Text = r.Title
	p.X.Label.Text = "false positive rate (OOD images accepted)"
	p.Y.Label.Text = "true positive rate (ID images accepted)"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	p.Legend.Top = false
	p.Legend.Left = false
	chance, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		return err
	}
	chance.Color = color.Gray{Y: 160}
	chance.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
	p.Add(chance)
	for k, s := range r.Series {
		curve, err := metrics.ROC(s.ID, s.OOD)
		if err != nil {
			return fmt.Errorf("ROC plot %q: %s: %w", r.Title, s.Label, err)
		}
		rep, err := metrics.Compute(s.ID, s.OOD)
		if err != nil {
			return fmt.Errorf("ROC plot %q: %s: %w", r.Title, s.Label, err)
		}
		xy := make(plotter.XYs, len(curve.FPR))
		for i := range xy {
			xy[i] = plotter.XY{X: curve.FPR[i], Y: curve.TPR[i]}
		}
		line, err := plotter.NewLine(xy)
		if err != nil {
			return err
		}
		line.Color = plotutil.Color(k)
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("%s (AUROC %.1f)", s.Label, 100*rep.AUROC), line)
	}
	return drawPNG(w, p, opts)
}

// drawPNG renders p at opts' size in pixels.
func drawPNG(w io.Writer, p *plot.Plot, opts PlotOptions) error {
	px := func(n int) vg.Length { return vg.Length(n) * vg.Inch / plotDPI }
	c := vgimg.NewWith(vgimg.UseWH(px(opts.Width), px(opts.Height)), vgimg.UseDPI(plotDPI))
	p.Draw(draw.New(c))
	_, err := vgimg.PngCanvas{Canvas: c}.WriteTo(w)
	return err
}

// PNGPlot is a plot that draws itself as a PNG image: HistogramPlot,
// ROCPlot.
type PNGPlot interface {
	WritePNG(w io.Writer, opts PlotOptions) error
}

// WritePlotFile writes a plot to path atomically: a failed or interrupted
// write leaves no partial image.
func WritePlotFile(path string, p PNGPlot, opts PlotOptions) error {
	if p == nil {
		return errors.New("results: nil plot")
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error { return p.WritePNG(w, opts) })
}
