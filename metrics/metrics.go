package metrics

import (
	"errors"
	"fmt"
	"math"
)

// TPRLevel is the true positive rate at which FPR@95TPR is read: 95% of ID
// images accepted (Liang et al., ODIN, ICLR 2018, following Hendrycks &
// Gimpel's FPR at 95% TPR).
const TPRLevel = 0.95

// Report holds the five metrics of one ID/OOD comparison, each a fraction in
// [0, 1] (tables print percentages). ID is the positive class and a higher
// score means more in-distribution.
type Report struct {
	// FPR95 is the fraction of OOD images accepted at the first ROC point
	// (highest threshold) whose TPR is at least 0.95. Lower is better.
	FPR95 float64 `json:"fpr95"`
	// DetectionError is min over thresholds of 0.5·(1−TPR) + 0.5·FPR
	// (ODIN, Liang et al. 2018). Lower is better; at most 0.5.
	DetectionError float64 `json:"detection_error"`
	// AUROC is the area under the ROC curve with ties counted as half, the
	// trapezoid rule (Hendrycks & Gimpel 2017). Higher is better.
	AUROC float64 `json:"auroc"`
	// AUPRIn is the average precision with ID as the positive class
	// (scikit-learn's average_precision_score). Higher is better.
	AUPRIn float64 `json:"aupr_in"`
	// AUPROut is the average precision with OOD as the positive class and the
	// score negated. Higher is better.
	AUPROut float64 `json:"aupr_out"`
}

// Mode selects how the metrics are computed.
type Mode int

const (
	// Exact is this package's definition (see the package documentation):
	// every distinct score is a threshold, ties are exact.
	Exact Mode = iota
	// Paper reproduces the MCD authors' test.py (see ComputePaper).
	Paper
	// ExactOODPositive is Exact with FPR@95 read with OOD as the positive
	// class (FPR95OODPositive), as OpenOOD and pytorch-ood report it; the
	// other four numbers are Exact's. It is what the OODPositive convention
	// selects (ModeFor).
	ExactOODPositive
)

// String returns "exact", "paper" or "exact-ood-positive".
func (m Mode) String() string {
	switch m {
	case Exact:
		return "exact"
	case Paper:
		return "paper"
	case ExactOODPositive:
		return "exact-ood-positive"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode parses "exact", "paper" or "exact-ood-positive".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "exact":
		return Exact, nil
	case "paper":
		return Paper, nil
	case "exact-ood-positive":
		return ExactOODPositive, nil
	}
	return 0, fmt.Errorf("unknown metrics mode %q (want exact or paper)", s)
}

// ModeFor is the mode that reads mode's numbers in convention c: the
// OOD-positive FPR@95 exists for the exact metrics only (the MCD authors'
// test.py counts ID as positive).
func ModeFor(mode Mode, c Convention) (Mode, error) {
	switch {
	case c == IDPositive:
		return mode, nil
	case mode == Exact || mode == ExactOODPositive:
		return ExactOODPositive, nil
	}
	return 0, fmt.Errorf("metrics: the %s mode has no OOD-positive FPR@95 (the MCD authors' test.py counts ID as positive); use the exact mode", mode)
}

// Compute returns the five metrics in mode m: Compute for Exact, the Report
// of ComputePaper for Paper (its FPR95 fallback flag is dropped), and for
// ExactOODPositive Compute's with FPR95OODPositive.
func (m Mode) Compute(id, ood []float64) (Report, error) {
	switch m {
	case Exact:
		return Compute(id, ood)
	case Paper:
		p, err := ComputePaper(id, ood)
		return p.Report, err
	case ExactOODPositive:
		r, err := Compute(id, ood)
		if err != nil {
			return r, err
		}
		r.FPR95, err = FPR95OODPositive(id, ood)
		return r, err
	}
	return Report{}, fmt.Errorf("metrics: unknown mode %d", int(m))
}

// Compute returns the five metrics of ID scores id against OOD scores ood,
// exactly: every distinct score is a threshold ("accept as ID when score ≥
// t"), and equal scores move the ROC curve diagonally, so ties count as half.
// It agrees with scikit-learn's roc_curve (drop_intermediate=False),
// roc_auc_score and average_precision_score to rounding. It sorts copies of
// its inputs, O(n log n); the inputs are not modified. Empty inputs and NaN or
// infinite scores are errors.
func Compute(id, ood []float64) (Report, error) {
	a, b, err := sortedCopies(id, ood)
	if err != nil {
		return Report{}, err
	}
	return exactSorted(a, b, TPRLevel), nil
}

// FPRAtTPR returns the fraction of OOD scores accepted at the highest
// threshold whose true positive rate (fraction of ID scores accepted) is at
// least tpr, in (0, 1]. FPRAtTPR(id, ood, TPRLevel) is Report.FPR95.
func FPRAtTPR(id, ood []float64, tpr float64) (float64, error) {
	if !(tpr > 0 && tpr <= 1) {
		return 0, fmt.Errorf("metrics: TPR level %v outside (0, 1]", tpr)
	}
	a, b, err := sortedCopies(id, ood)
	if err != nil {
		return 0, err
	}
	return exactSorted(a, b, tpr).FPR95, nil
}

// Curve is a receiver operating characteristic curve with ID as the positive
// class, as scikit-learn's roc_curve with drop_intermediate=False: point k
// accepts every score ≥ Thresholds[k]. The first point is (0, 0) at +Inf, the
// last (1, 1) at the lowest score; thresholds strictly decrease.
type Curve struct {
	Thresholds []float64 `json:"thresholds"`
	FPR        []float64 `json:"fpr"`
	TPR        []float64 `json:"tpr"`
}

// ROC returns the ROC curve of id against ood, one point per distinct score
// plus the origin, for plotting.
func ROC(id, ood []float64) (Curve, error) {
	a, b, err := sortedCopies(id, ood)
	if err != nil {
		return Curve{}, err
	}
	nI, nO := float64(len(a)), float64(len(b))
	c := Curve{Thresholds: []float64{math.Inf(1)}, FPR: []float64{0}, TPR: []float64{0}}
	forGroupsDesc(a, b, func(v float64, ga, gb, tpAbove, fpAbove int) {
		c.Thresholds = append(c.Thresholds, v)
		c.TPR = append(c.TPR, float64(tpAbove+ga)/nI)
		c.FPR = append(c.FPR, float64(fpAbove+gb)/nO)
	})
	return c, nil
}

// forGroupsDesc calls f once per distinct value v of the ascending slices a
// (ID) and b (OOD), from the highest down, with the number of ID (ga) and OOD
// (gb) scores equal to v and of those above it.
func forGroupsDesc(a, b []float64, f func(v float64, ga, gb, tpAbove, fpAbove int)) {
	i, j := len(a), len(b)
	for i > 0 || j > 0 {
		var v float64
		switch {
		case i == 0:
			v = b[j-1]
		case j == 0:
			v = a[i-1]
		default:
			v = max(a[i-1], b[j-1])
		}
		i0, j0 := i, j
		for i > 0 && a[i-1] == v {
			i--
		}
		for j > 0 && b[j-1] == v {
			j--
		}
		f(v, i0-i, j0-j, len(a)-i0, len(b)-j0)
	}
}

// exactSorted computes the exact metrics of ascending-sorted, validated,
// non-empty ID scores a and OOD scores b in one descending sweep over the
// distinct scores. Report.FPR95 is read at TPR ≥ level.
func exactSorted(a, b []float64, level float64) Report {
	nI, nO := len(a), len(b)
	fI, fO := float64(nI), float64(nO)
	var (
		u2     uint64  // 2 × Mann–Whitney U: pairs with ID above OOD count 2, ties 1
		apIn   float64 // Σ over ID-holding groups of ga · precision
		apOut  float64 // Σ over OOD-holding groups of gb · precision of "OOD when ≤ v"
		fpr95  = 1.0
		found  bool
		detErr = 0.5 // the point (0, 0) at +Inf
	)
	forGroupsDesc(a, b, func(_ float64, ga, gb, tpAbove, fpAbove int) {
		if gb > 0 {
			// OOD positive, score negated: "OOD when score ≤ v" takes the
			// OOD and ID scores not above v.
			oodLE, idLE := nO-fpAbove, nI-tpAbove
			apOut += float64(gb) * (float64(oodLE) / float64(oodLE+idLE))
		}
		// nO-fpAbove-gb OOD scores lie strictly below v.
		u2 += uint64(ga) * uint64(2*(nO-fpAbove-gb)+gb)
		tp, fp := tpAbove+ga, fpAbove+gb
		if ga > 0 {
			apIn += float64(ga) * (float64(tp) / float64(tp+fp))
		}
		tpr, fpr := float64(tp)/fI, float64(fp)/fO
		if !found && tpr >= level {
			fpr95, found = fpr, true
		}
		// The conversions keep the products rounded (no fused multiply-add),
		// as in scikit-learn.
		if e := float64(0.5*(1-tpr)) + float64(0.5*fpr); e < detErr {
			detErr = e
		}
	})
	return Report{
		FPR95:          fpr95,
		DetectionError: detErr,
		AUROC:          float64(u2) / (2 * fI * fO),
		AUPRIn:         apIn / fI,
		AUPROut:        apOut / fO,
	}
}

// sortedCopies validates id and ood and returns ascending sorted copies.
func sortedCopies(id, ood []float64) (a, b []float64, err error) {
	if err := validate(id, ood); err != nil {
		return nil, nil, err
	}
	return sortedFloats(id), sortedFloats(ood), nil
}

// ErrEmpty is returned (wrapped) when the ID or the OOD scores are empty.
var ErrEmpty = errors.New("no scores")

// validate rejects empty inputs and non-finite scores, naming the first bad
// one by its 0-based index.
func validate(id, ood []float64) error {
	for _, s := range []struct {
		name   string
		scores []float64
	}{{"id", id}, {"ood", ood}} {
		if len(s.scores) == 0 {
			return fmt.Errorf("metrics: %s: %w", s.name, ErrEmpty)
		}
		for k, v := range s.scores {
			if math.IsNaN(v) {
				return fmt.Errorf("metrics: %s score %d (0-based) is NaN", s.name, k)
			}
			if math.IsInf(v, 0) {
				return fmt.Errorf("metrics: %s score %d (0-based) is %v", s.name, k, v)
			}
		}
	}
	return nil
}

// Convention says which class is positive for FPR@95.
type Convention int

const (
	// IDPositive reads FPR@95 as the fraction of OOD images accepted when
	// 95% of the ID images are (ODIN, Liang et al., ICLR 2018; the MCD
	// paper): Report.FPR95.
	IDPositive Convention = iota
	// OODPositive reads it as the fraction of ID images flagged when 95% of
	// the OOD images are, as OpenOOD v1.5 and pytorch-ood do (OOD the
	// positive class, the score negated): FPR95OODPositive.
	OODPositive
)

// ParseConvention parses "id-positive" or "ood-positive".
func ParseConvention(s string) (Convention, error) {
	switch s {
	case "id-positive":
		return IDPositive, nil
	case "ood-positive":
		return OODPositive, nil
	}
	return 0, fmt.Errorf("unknown convention %q (want id-positive or ood-positive)", s)
}

// FPR95OODPositive is FPR@95 with OOD as the positive class, computed as
// OpenOOD v1.5 does (openood/evaluators/metrics.py, auc_and_fpr_recall):
// scikit-learn's roc_curve of the OOD labels against the negated scores, with
// its default drop_intermediate (points where both counts move in equal
// steps are dropped), then the FPR — the fraction of ID images flagged as OOD
// — at the first point whose TPR is at least 95%. AUROC, detection error and
// the AUPRs do not depend on which class is positive.
func FPR95OODPositive(id, ood []float64) (float64, error) {
	a, b, err := sortedCopies(id, ood)
	if err != nil {
		return 0, err
	}
	// The curve flags as OOD every score ≤ v, for each distinct v from the
	// lowest up (the negated scores from the highest down): tps counts OOD
	// scores ≤ v, fps ID scores ≤ v.
	var tps, fps []int
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var v float64
		switch {
		case i == len(a):
			v = b[j]
		case j == len(b):
			v = a[i]
		default:
			v = min(a[i], b[j])
		}
		for i < len(a) && a[i] == v {
			i++
		}
		for j < len(b) && b[j] == v {
			j++
		}
		tps, fps = append(tps, j), append(fps, i)
	}
	// drop_intermediate: keep the ends and every point where the second
	// difference of fps or of tps is not zero.
	keep := []int{0}
	for k := 1; k+1 < len(tps); k++ {
		if fps[k+1]-2*fps[k]+fps[k-1] != 0 || tps[k+1]-2*tps[k]+tps[k-1] != 0 {
			keep = append(keep, k)
		}
	}
	if len(tps) > 1 {
		keep = append(keep, len(tps)-1)
	}
	if len(tps) <= 2 {
		keep = keep[:0]
		for k := range tps {
			keep = append(keep, k)
		}
	}
	// scikit-learn then puts (0, 0) first, which TPRLevel > 0 never picks.
	nI, nO := float64(len(a)), float64(len(b))
	for _, k := range keep {
		if float64(tps[k])/nO >= TPRLevel {
			return float64(fps[k]) / nI, nil
		}
	}
	return 1, nil
}
