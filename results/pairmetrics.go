package results

import (
	"bytes"
	"fmt"
	"io"

	"github.com/mcdood/mcdood/metrics"
)

// PairMetrics is what "mcdood metrics" reports for one set of ID scores and
// one of OOD scores. As JSON it is the five keys of metrics.Report, and
// fpr95_fallback and ci only when they say something.
type PairMetrics struct {
	metrics.Report
	// FPR95Fallback is true when paper mode found no threshold in test.py's
	// TPR window and FPR95 is the exact value (metrics.PaperReport).
	FPR95Fallback bool               `json:"fpr95_fallback,omitempty"`
	CI            *metrics.Intervals `json:"ci,omitempty"` // with Bootstrap.Resamples > 0

	Mode                metrics.Mode            `json:"-"`
	IDScores, OODScores int                     `json:"-"` // how many of each
	Bootstrap           metrics.BootstrapConfig `json:"-"` // Resamples 0: no intervals
}

// ComputePair computes the metrics of id and ood in mode m (test.py's
// FPR@95 fallback noted in paper mode), and their percentile bootstrap
// intervals when boot.Resamples > 0 (boot.Mode is set to m).
func ComputePair(id, ood []float64, m metrics.Mode, boot metrics.BootstrapConfig) (PairMetrics, error) {
	boot.Mode = m
	p := PairMetrics{Mode: m, IDScores: len(id), OODScores: len(ood), Bootstrap: boot}
	var err error
	if m == metrics.Paper {
		r, err := metrics.ComputePaper(id, ood)
		if err != nil {
			return p, err
		}
		p.Report, p.FPR95Fallback = r.Report, r.FPR95Fallback
	} else if p.Report, err = m.Compute(id, ood); err != nil {
		return p, err
	}
	if boot.Resamples > 0 {
		iv, err := metrics.Bootstrap(id, ood, boot)
		if err != nil {
			return p, err
		}
		p.CI = &iv
	}
	return p, nil
}

// WriteText writes the metrics in percent, one per line, with their
// intervals when there are any.
func (p PairMetrics) WriteText(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d ID and %d OOD scores, %s mode, values in %%", p.IDScores, p.OODScores, p.Mode)
	if p.CI != nil {
		fmt.Fprintf(&b, ", %g%% bootstrap intervals (%d resamples, seed %d)", 100*p.Bootstrap.Level, p.Bootstrap.Resamples, p.Bootstrap.Seed)
	}
	b.WriteString("\n")
	var iv metrics.Intervals
	if p.CI != nil {
		iv = *p.CI
	}
	rows := []struct {
		label string
		v     float64
		iv    metrics.Interval
	}{
		{"FPR@95TPR", p.FPR95, iv.FPR95},
		{"Detection error", p.DetectionError, iv.DetectionError},
		{"AUROC", p.AUROC, iv.AUROC},
		{"AUPR-In", p.AUPRIn, iv.AUPRIn},
		{"AUPR-Out", p.AUPROut, iv.AUPROut},
	}
	for i, r := range rows {
		fmt.Fprintf(&b, "%-16s %6.2f", r.label, 100*r.v)
		if p.CI != nil {
			fmt.Fprintf(&b, "  [%6.2f, %6.2f]", 100*r.iv.Low, 100*r.iv.High)
		}
		if i == 0 && p.FPR95Fallback {
			b.WriteString("  (exact: no threshold in test.py's TPR window)")
		}
		b.WriteString("\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}
