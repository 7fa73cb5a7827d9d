package metrics

import "testing"

// Every detection metric reads its own Report field and interval; the
// accuracy is no field of a Report.
func TestMetricIdentity(t *testing.T) {
	rep := Report{FPR95: 0.1, DetectionError: 0.2, AUROC: 0.3, AUPRIn: 0.4, AUPROut: 0.5}
	iv := Intervals{FPR95: Interval{Low: 0.1}, DetectionError: Interval{Low: 0.2}, AUROC: Interval{Low: 0.3}, AUPRIn: Interval{Low: 0.4}, AUPROut: Interval{Low: 0.5}}
	for k, m := range Detection {
		want := []float64{0.1, 0.2, 0.3, 0.4, 0.5}[k]
		if v, ok := rep.Get(m); !ok || v != want {
			t.Errorf("%s: Report.Get = %v, %v; want %v", m, v, ok, want)
		}
		if x, ok := iv.Get(m); !ok || x.Low != want {
			t.Errorf("%s: Intervals.Get = %v, %v; want %v", m, x, ok, want)
		}
		if got, err := ParseMetric(string(m)); err != nil || got != m {
			t.Errorf("ParseMetric(%q) = %v, %v", m, got, err)
		}
		if (m.Arrow() == "↓") != (k < 2) || m.Label() == string(m) && m != AUROC {
			t.Errorf("%s: label %q, arrow %s", m, m.Label(), m.Arrow())
		}
	}
	if _, ok := rep.Get(Accuracy); ok {
		t.Error("a Report holds the accuracy")
	}
	if _, err := ParseMetric("auc"); err == nil {
		t.Error(`ParseMetric("auc") accepted`)
	}
}
