package metrics

import (
	"math"
	"slices"
)

// PaperOffset is what the MCD authors' test.py adds to every discrepancy to
// make its thresholds ("+ 10e-5"), in score units. ComputePaper keeps it for
// every kind of score; see the package documentation for what that means for
// scores whose spread is not much larger than it.
const PaperOffset = 10e-5

// The TPR window of test.py's tpr95: FPR is averaged over every threshold
// whose TPR lies in it.
const (
	paperTPRLow  = 0.9495
	paperTPRHigh = 0.9505
)

// PaperReport is the Report of ComputePaper with what it had to decide where
// test.py has no answer.
type PaperReport struct {
	Report
	// FPR95Fallback is true when no threshold had a TPR in [0.9495, 0.9505],
	// where test.py divides by zero; FPR95 then holds the exact value
	// (Report.FPR95 of Compute). It happens when there are fewer than about
	// 1,000 ID scores or when heavy ties make the TPR jump over the window.
	FPR95Fallback bool `json:"fpr95_fallback,omitempty"`
}

// ComputePaper reproduces the computations of the MCD authors' evaluation
// script (test.py in github.com/YU1ut/UOOD-MCD, Yu & Aizawa, ICCV 2019) so
// that our numbers can stand beside the paper's like for like.
//
// test.py works on the L1 discrepancy d, where lower means in-distribution;
// ComputePaper applies it to d = −score, which is the discrepancy itself for
// the MCD detector (whose score is the negated discrepancy). Thresholds are
// every distinct d + PaperOffset (computed in float64 as test.py does), plus
// test.py's fixed −0.1, 0 and 2.1 when every d lies in [0, 2], the range of an
// L1 distance of two probability vectors, and otherwise the sentinels −Inf
// and +Inf, which play the part of −0.1 and 2.1 (below and above every
// threshold). Then, over the thresholds δ in decreasing order, with X the ID
// and Y the OOD discrepancies:
//
//   - FPR95: the mean of #(Y ≤ δ)/|Y| over the thresholds with
//     0.9495 ≤ #(X < δ)/|X| ≤ 0.9505 (see PaperReport.FPR95Fallback when
//     there are none);
//   - detection error: min of (#(X > δ)/|X| + #(Y < δ)/|Y|)/2, starting at 1;
//   - AUROC: the Riemann sum Σ (FPR_prev − FPR)·TPR with TPR = #(X < δ)/|X|,
//     FPR = #(Y < δ)/|Y|, FPR_prev starting at 1, plus the last FPR·TPR;
//   - AUPR-In: Σ (recall_prev − recall)·precision with tp = #(X ≤ δ),
//     fp = #(Y ≤ δ), skipping thresholds with tp + fp = 0, recall_prev
//     starting at 1, plus the last recall·precision;
//   - AUPR-Out: the same over the thresholds in increasing order with
//     tp = #(Y > δ), fp = #(X > δ), recall = tp/|Y|.
//
// The sums run in test.py's order with its roundings, so on the same float64
// inputs the results agree with test.py to the last bit or nearly; the tests
// check them against a direct transcription and against values computed with
// NumPy. The sweep is O(n log n), not test.py's O(n · thresholds).
func ComputePaper(id, ood []float64) (PaperReport, error) {
	if err := validate(id, ood); err != nil {
		return PaperReport{}, err
	}
	dX, dY := negatedSorted(id), negatedSorted(ood)
	r, _ := paperSorted(dX, dY, nil)
	return r, nil
}

// negatedSorted returns −s sorted ascending.
func negatedSorted(s []float64) []float64 {
	d := sortedFloats(s)
	slices.Reverse(d)
	for k, v := range d {
		d[k] = -v
	}
	return d
}

// paperThresholds returns test.py's thresholds for the ascending
// discrepancies dX and dY in increasing order, appended to buf[:0].
func paperThresholds(buf, dX, dY []float64) []float64 {
	buf = slices.Grow(buf[:0], len(dX)+len(dY)+3)
	buf = append(buf, math.Inf(-1))
	if min(dX[0], dY[0]) >= 0 && max(dX[len(dX)-1], dY[len(dY)-1]) <= 2 {
		// test.py's fixed 0; every d + offset is above it.
		buf = append(buf, 0)
	}
	i, j := 0, 0
	for i < len(dX) || j < len(dY) {
		var d float64
		if j == len(dY) || (i < len(dX) && dX[i] <= dY[j]) {
			d, i = dX[i], i+1
		} else {
			d, j = dY[j], j+1
		}
		// Rounding is monotone, so the sums come out ascending.
		if t := d + PaperOffset; t != buf[len(buf)-1] {
			buf = append(buf, t)
		}
	}
	return append(buf, math.Inf(1))
}

// paperSorted computes test.py's metrics of ascending ID discrepancies dX and
// OOD discrepancies dY, using buf for the thresholds; it returns the buffer
// for reuse.
func paperSorted(dX, dY, buf []float64) (PaperReport, []float64) {
	deltas := paperThresholds(buf, dX, dY)
	nX, nY := len(dX), len(dY)
	fX, fY := float64(nX), float64(nY)

	// Decreasing thresholds: tpr95, auroc, auprIn, detection. The counts
	// #(X < δ), #(X ≤ δ), #(Y < δ), #(Y ≤ δ) only fall as δ falls.
	xlt, xle, ylt, yle := nX, nX, nY, nY
	var (
		fprSum, total     float64
		auroc, fprTemp    = 0.0, 1.0
		tpr, fpr          float64
		auprIn, recallIn  = 0.0, 1.0 // recallIn is test.py's recallTemp
		recall, precision float64
		detErr            = 1.0
	)
	for k := len(deltas) - 1; k >= 0; k-- {
		delta := deltas[k]
		for xlt > 0 && dX[xlt-1] >= delta {
			xlt--
		}
		for xle > 0 && dX[xle-1] > delta {
			xle--
		}
		for ylt > 0 && dY[ylt-1] >= delta {
			ylt--
		}
		for yle > 0 && dY[yle-1] > delta {
			yle--
		}
		// tpr95. The float64 conversions stop fused multiply-adds, which
		// NumPy does not do either.
		tpr = float64(xlt) / fX
		if tpr <= paperTPRHigh && tpr >= paperTPRLow {
			fprSum += float64(yle) / fY
			total++
		}
		// auroc
		fpr = float64(ylt) / fY
		auroc += float64((fprTemp - fpr) * tpr)
		fprTemp = fpr
		// auprIn
		if xle+yle != 0 {
			precision = float64(xle) / float64(xle+yle)
			recall = float64(xle) / fX
			auprIn += float64((recallIn - recall) * precision)
			recallIn = recall
		}
		// detection
		detErr = min(detErr, (float64(nX-xle)/fX+float64(ylt)/fY)/2)
	}
	auroc += float64(fpr * tpr)
	auprIn += float64(recall * precision)

	// Increasing thresholds: auprOut, with #(X ≤ δ) and #(Y ≤ δ) rising.
	xle, yle = 0, 0
	auprOut, recallOut := 0.0, 1.0
	recall, precision = 0, 0
	for _, delta := range deltas {
		for xle < nX && dX[xle] <= delta {
			xle++
		}
		for yle < nY && dY[yle] <= delta {
			yle++
		}
		fp, tp := nX-xle, nY-yle
		if tp+fp == 0 {
			continue
		}
		precision = float64(tp) / float64(tp+fp)
		recall = float64(tp) / fY
		auprOut += float64((recallOut - recall) * precision)
		recallOut = recall
	}
	auprOut += float64(recall * precision)

	r := PaperReport{Report: Report{
		DetectionError: detErr,
		AUROC:          auroc,
		AUPRIn:         auprIn,
		AUPROut:        auprOut,
	}}
	if total > 0 {
		r.FPR95 = fprSum / total
	} else {
		r.FPR95 = exactFPRAtTPRDiscrepancy(dX, dY, TPRLevel)
		r.FPR95Fallback = true
	}
	return r, deltas
}

// exactFPRAtTPRDiscrepancy is the exact FPR at TPR ≥ level (Report.FPR95)
// computed on ascending discrepancies, where accepting score ≥ t is
// accepting d ≤ −t.
func exactFPRAtTPRDiscrepancy(dX, dY []float64, level float64) float64 {
	i, j := 0, 0
	for i < len(dX) {
		v := dX[i]
		if j < len(dY) && dY[j] < v {
			v = dY[j]
		}
		for i < len(dX) && dX[i] == v {
			i++
		}
		for j < len(dY) && dY[j] == v {
			j++
		}
		if float64(i)/float64(len(dX)) >= level {
			return float64(j) / float64(len(dY))
		}
	}
	return 1
}
