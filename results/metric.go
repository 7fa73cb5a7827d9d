package results

import (
	"fmt"
	"strings"

	"github.com/mcdood/mcdood/metrics"
)

// Metric names one number of a record: one of the five detection metrics or
// the network's test accuracy. The names are those of the JSON and CSV
// columns.
type Metric string

// The five detection metrics of the tables (Liang et al., ICLR 2018, Table 2;
// Yu & Aizawa, ICCV 2019, Table 2) and the ID test accuracy.
const (
	// FPR95 is the false positive rate at 95% true positive rate: the
	// fraction of OOD images accepted when 95% of ID images are (Liang et
	// al., ICLR 2018). Lower is better.
	FPR95 Metric = "fpr95"
	// DetectionError is min over thresholds of 0.5·(1 − TPR) + 0.5·FPR
	// (Liang et al., ICLR 2018). Lower is better.
	DetectionError Metric = "detection_error"
	// AUROC is the area under the ROC curve. Higher is better.
	AUROC Metric = "auroc"
	// AUPRIn is the area under the precision-recall curve with ID positive.
	// Higher is better.
	AUPRIn Metric = "aupr_in"
	// AUPROut is the same with OOD positive. Higher is better.
	AUPROut Metric = "aupr_out"
	// Accuracy is the ID test accuracy of the pre-trained network. Higher is
	// better.
	Accuracy Metric = "accuracy"
)

// DetectionMetrics are the five metrics in the papers' column order.
var DetectionMetrics = []Metric{FPR95, DetectionError, AUROC, AUPRIn, AUPROut}

// AllMetrics are the detection metrics and the accuracy: what a regression
// comparison checks.
var AllMetrics = append(append([]Metric(nil), DetectionMetrics...), Accuracy)

// ParseMetric reads a metric name ("auroc", "fpr95", ...).
func ParseMetric(s string) (Metric, error) {
	for _, m := range AllMetrics {
		if string(m) == s {
			return m, nil
		}
	}
	names := make([]string, len(AllMetrics))
	for k, m := range AllMetrics {
		names[k] = string(m)
	}
	return "", fmt.Errorf("unknown metric %q (want one of %s)", s, strings.Join(names, ", "))
}

// Label is the metric's name as the papers' table headers print it.
func (m Metric) Label() string {
	switch m {
	case FPR95:
		return "FPR@95TPR"
	case DetectionError:
		return "Detection error"
	case AUROC:
		return "AUROC"
	case AUPRIn:
		return "AUPR-In"
	case AUPROut:
		return "AUPR-Out"
	case Accuracy:
		return "Accuracy"
	}
	return string(m)
}

// LowerIsBetter reports whether a smaller value is better (FPR95 and the
// detection error).
func (m Metric) LowerIsBetter() bool { return m == FPR95 || m == DetectionError }

// Arrow is ↓ for lower-is-better metrics and ↑ otherwise, as in the papers'
// headers.
func (m Metric) Arrow() string {
	if m.LowerIsBetter() {
		return "↓"
	}
	return "↑"
}

// index is the metric's position in DetectionMetrics, or −1 for Accuracy.
func (m Metric) index() int {
	for k, d := range DetectionMetrics {
		if d == m {
			return k
		}
	}
	return -1
}

// fromReport reads a detection metric from a report (a fraction).
func (m Metric) fromReport(rep metrics.Report) float64 {
	switch m {
	case FPR95:
		return rep.FPR95
	case DetectionError:
		return rep.DetectionError
	case AUROC:
		return rep.AUROC
	case AUPRIn:
		return rep.AUPRIn
	case AUPROut:
		return rep.AUPROut
	}
	panic("results: not a detection metric: " + string(m))
}

// fromIntervals reads a detection metric's interval.
func (m Metric) fromIntervals(iv *metrics.Intervals) metrics.Interval {
	switch m {
	case FPR95:
		return iv.FPR95
	case DetectionError:
		return iv.DetectionError
	case AUROC:
		return iv.AUROC
	case AUPRIn:
		return iv.AUPRIn
	case AUPROut:
		return iv.AUPROut
	}
	panic("results: not a detection metric: " + string(m))
}

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
func (r *Record) Value(m Metric, mode metrics.Mode) (float64, error) {
	if m == Accuracy {
		return r.Accuracy, nil
	}
	if m.index() < 0 {
		return 0, fmt.Errorf("unknown metric %q", string(m))
	}
	rep, err := r.Report(mode)
	if err != nil {
		return 0, err
	}
	return m.fromReport(rep), nil
}
