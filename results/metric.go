package results

import (
	"fmt"
	"slices"

	"github.com/mcdood/mcdood/metrics"
)

// Report returns the record's five metrics in mode: Metrics for
// metrics.Exact, Paper (the MCD authors' test.py) for metrics.Paper, which
// is an error when the record has none.
func (r *Record) Report(mode metrics.Mode) (metrics.Report, error) {
	switch mode {
	case metrics.Exact:
		return r.Metrics, nil
	case metrics.Paper:
		if r.Paper == nil {
			return metrics.Report{}, fmt.Errorf("record %s has no paper-mode metrics (paper_metrics)", r.Key)
		}
		return *r.Paper, nil
	case metrics.ExactOODPositive:
		if r.FPR95OODPositive == nil {
			return metrics.Report{}, fmt.Errorf("record %s has no OOD-positive FPR@95 (fpr95_ood_positive), and no scores to compute it from", r.Key)
		}
		rep := r.Metrics
		rep.FPR95 = *r.FPR95OODPositive
		return rep, nil
	}
	return metrics.Report{}, fmt.Errorf("unknown metrics mode %v", mode)
}

// Value returns metric m of the record in mode, a fraction.
func (r *Record) Value(m metrics.Metric, mode metrics.Mode) (float64, error) {
	if m == metrics.Accuracy {
		return r.Accuracy, nil
	}
	if !slices.Contains(metrics.Detection, m) {
		return 0, fmt.Errorf("unknown metric %q", string(m))
	}
	rep, err := r.Report(mode)
	if err != nil {
		return 0, err
	}
	v, _ := rep.Get(m)
	return v, nil
}
