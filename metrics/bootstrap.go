package metrics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// DefaultResamples is the number of bootstrap resamples the tables use unless
// told otherwise; 1,000 is the usual choice for 95% percentile intervals
// (Efron & Tibshirani, An Introduction to the Bootstrap, 1993, §13.3).
const DefaultResamples = 1000

// BootstrapConfig says how to compute bootstrap confidence intervals.
type BootstrapConfig struct {
	Mode      Mode    // Exact or Paper
	Resamples int     // B, the number of resamples; at least 2
	Level     float64 // coverage in (0, 1), e.g. 0.95
	Seed      uint64  // seeds the PCG generator; same seed, same intervals
}

// Interval is a two-sided confidence interval.
type Interval struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

// Intervals holds one confidence interval per metric of a Report.
type Intervals struct {
	FPR95          Interval `json:"fpr95"`
	DetectionError Interval `json:"detection_error"`
	AUROC          Interval `json:"auroc"`
	AUPRIn         Interval `json:"aupr_in"`
	AUPROut        Interval `json:"aupr_out"`
}

// pcgStream is the fixed second word of the PCG state ("mcdood" in ASCII);
// the caller's seed is the first.
const pcgStream = 0x6d63646f6f64

// Bootstrap returns percentile bootstrap confidence intervals (Efron &
// Tibshirani 1993, ch. 13) for every metric of id against ood in cfg.Mode:
// the ID and the OOD scores are resampled separately with replacement, each
// to its own size, cfg.Resamples times, the metrics computed on each
// resample, and each interval is the (1−Level)/2 and (1+Level)/2 quantiles of
// the resampled values, interpolated linearly between order statistics
// (NumPy's default percentile, Hyndman & Fan type 7). The generator is
// math/rand/v2's PCG seeded with (cfg.Seed, "mcdood"), drawing all ID indices
// then all OOD indices of each resample in turn, so results are reproducible
// for a seed. In Paper mode a resample without a threshold in the TPR window
// uses the exact FPR95, as ComputePaper does.
//
// Each resample costs O(n) after one sort of the inputs: it draws how many
// times each sorted score is taken and writes the resample out already
// sorted.
func Bootstrap(id, ood []float64, cfg BootstrapConfig) (Intervals, error) {
	if cfg.Resamples < 2 {
		return Intervals{}, fmt.Errorf("metrics: bootstrap needs at least 2 resamples, got %d", cfg.Resamples)
	}
	if !(cfg.Level > 0 && cfg.Level < 1) {
		return Intervals{}, fmt.Errorf("metrics: bootstrap level %v outside (0, 1)", cfg.Level)
	}
	if cfg.Mode != Exact && cfg.Mode != Paper && cfg.Mode != ExactOODPositive {
		return Intervals{}, fmt.Errorf("metrics: unknown mode %d", int(cfg.Mode))
	}
	if err := validate(id, ood); err != nil {
		return Intervals{}, err
	}
	// Exact mode sweeps ascending scores, Paper mode ascending discrepancies.
	var a, b []float64
	if cfg.Mode == Paper {
		a, b = negatedSorted(id), negatedSorted(ood)
	} else {
		a, b = sortedFloats(id), sortedFloats(ood)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, pcgStream))
	countA, countB := make([]int32, len(a)), make([]int32, len(b))
	ra, rb := make([]float64, 0, len(a)), make([]float64, 0, len(b))
	var buf []float64
	vals := make([][]float64, 5)
	for k := range vals {
		vals[k] = make([]float64, cfg.Resamples)
	}
	for r := range cfg.Resamples {
		ra = resample(rng, a, countA, ra)
		rb = resample(rng, b, countB, rb)
		var rep Report
		if cfg.Mode == Paper {
			var p PaperReport
			p, buf = paperSorted(ra, rb, buf)
			rep = p.Report
		} else {
			rep = exactSorted(ra, rb, TPRLevel)
			if cfg.Mode == ExactOODPositive {
				// The resamples are valid and sorted, so this cannot fail.
				rep.FPR95, _ = FPR95OODPositive(ra, rb)
			}
		}
		vals[0][r], vals[1][r], vals[2][r], vals[3][r], vals[4][r] =
			rep.FPR95, rep.DetectionError, rep.AUROC, rep.AUPRIn, rep.AUPROut
	}
	lo, hi := (1-cfg.Level)/2, (1+cfg.Level)/2
	iv := make([]Interval, 5)
	for k, v := range vals {
		slices.Sort(v)
		iv[k] = Interval{Low: quantile(v, lo), High: quantile(v, hi)}
	}
	return Intervals{FPR95: iv[0], DetectionError: iv[1], AUROC: iv[2], AUPRIn: iv[3], AUPROut: iv[4]}, nil
}

// resample draws len(sorted) indices with replacement and writes the drawn
// values, which come out ascending because sorted is, to out[:0]. count is
// scratch of len(sorted), all zero on entry and on return.
func resample(rng *rand.Rand, sorted []float64, count []int32, out []float64) []float64 {
	n := len(sorted)
	for range n {
		count[rng.IntN(n)]++
	}
	out = out[:0]
	for k, c := range count {
		for ; c > 0; c-- {
			out = append(out, sorted[k])
		}
		count[k] = 0
	}
	return out
}

// quantile returns the q-quantile of ascending v by linear interpolation
// between order statistics (Hyndman & Fan type 7, NumPy's default).
func quantile(v []float64, q float64) float64 {
	h := q * float64(len(v)-1)
	k := math.Floor(h)
	i := int(k)
	if i+1 >= len(v) {
		return v[len(v)-1]
	}
	return v[i] + (h-k)*(v[i+1]-v[i])
}
