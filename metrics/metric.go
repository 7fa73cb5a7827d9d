package metrics

import (
	"fmt"
	"strings"
)

// Metric names one number of a result: one of the five detection metrics of
// a Report, or the network's ID test accuracy. The names are those of the
// JSON and CSV columns; Report's fields define the metrics.
type Metric string

// The five detection metrics of the tables (Liang et al., ICLR 2018, Table 2;
// Yu & Aizawa, ICCV 2019, Table 2) and the ID test accuracy.
const (
	FPR95          Metric = "fpr95"           // Report.FPR95; lower is better
	DetectionError Metric = "detection_error" // Report.DetectionError; lower is better
	AUROC          Metric = "auroc"           // Report.AUROC
	AUPRIn         Metric = "aupr_in"         // Report.AUPRIn
	AUPROut        Metric = "aupr_out"        // Report.AUPROut
	Accuracy       Metric = "accuracy"        // the pre-trained network's ID test accuracy
)

// Detection are the five detection metrics in the papers' column order.
var Detection = []Metric{FPR95, DetectionError, AUROC, AUPRIn, AUPROut}

// All are the detection metrics and the accuracy: what a regression
// comparison checks.
var All = append(append([]Metric(nil), Detection...), Accuracy)

// ParseMetric reads a metric name ("auroc", "fpr95", ...).
func ParseMetric(s string) (Metric, error) {
	for _, m := range All {
		if string(m) == s {
			return m, nil
		}
	}
	names := make([]string, len(All))
	for k, m := range All {
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

// Get reads detection metric m (a fraction); false for Accuracy and unknown
// names, which a Report does not hold.
func (r Report) Get(m Metric) (float64, bool) {
	switch m {
	case FPR95:
		return r.FPR95, true
	case DetectionError:
		return r.DetectionError, true
	case AUROC:
		return r.AUROC, true
	case AUPRIn:
		return r.AUPRIn, true
	case AUPROut:
		return r.AUPROut, true
	}
	return 0, false
}

// Get reads detection metric m's interval; false as Report.Get.
func (iv Intervals) Get(m Metric) (Interval, bool) {
	switch m {
	case FPR95:
		return iv.FPR95, true
	case DetectionError:
		return iv.DetectionError, true
	case AUROC:
		return iv.AUROC, true
	case AUPRIn:
		return iv.AUPRIn, true
	case AUPROut:
		return iv.AUPROut, true
	}
	return Interval{}, false
}
