package metrics

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// paperReference is a direct transcription of the MCD authors' test.py
// (github.com/YU1ut/UOOD-MCD), O(n · thresholds), applied to the
// discrepancies d = −score, with test.py's literal thresholds −0.1, 0, 2.1
// when every d lies in [0, 2] and −Inf, +Inf otherwise. ok is false where
// test.py's tpr95 would divide by zero.
func paperReference(id, ood []float64) (r Report, ok bool) {
	X1, Y1 := make([]float64, len(id)), make([]float64, len(ood))
	for k, v := range id {
		X1[k] = -v
	}
	for k, v := range ood {
		Y1[k] = -v
	}
	all := append(slices.Clone(X1), Y1...)
	var diff []float64
	if slices.Min(all) >= 0 && slices.Max(all) <= 2 {
		diff = []float64{-0.1, 0, 2.1}
	} else {
		diff = []float64{math.Inf(-1), math.Inf(1)}
	}
	for _, d := range all {
		diff = append(diff, d+10e-5)
	}
	// sorted(list(set(diff)))[::-1]
	slices.Sort(diff)
	diff = slices.Compact(diff)
	slices.Reverse(diff)

	count := func(s []float64, pred func(float64) bool) int {
		n := 0
		for _, v := range s {
			if pred(v) {
				n++
			}
		}
		return n
	}
	nX, nY := float64(len(X1)), float64(len(Y1))

	// tpr95
	total, fprSum := 0.0, 0.0
	for _, delta := range diff {
		tpr := float64(count(X1, func(v float64) bool { return v < delta })) / nX
		error2 := float64(count(Y1, func(v float64) bool { return v <= delta })) / nY
		if tpr <= 0.9505 && tpr >= 0.9495 {
			fprSum += error2
			total++
		}
	}
	if total > 0 {
		r.FPR95, ok = fprSum/total, true
	}
	// auroc
	aurocBase, fprTemp := 0.0, 1.0
	var tpr, fpr float64
	for _, delta := range diff {
		tpr = float64(count(X1, func(v float64) bool { return v < delta })) / nX
		fpr = float64(count(Y1, func(v float64) bool { return v < delta })) / nY
		aurocBase += float64((-fpr + fprTemp) * tpr)
		fprTemp = fpr
	}
	aurocBase += float64(fpr * tpr)
	r.AUROC = aurocBase
	// auprIn
	auprBase, recallTemp := 0.0, 1.0
	var precision, recall float64
	for _, delta := range diff {
		tp := count(X1, func(v float64) bool { return v <= delta })
		fp := count(Y1, func(v float64) bool { return v <= delta })
		if tp+fp == 0 {
			continue
		}
		precision = float64(tp) / float64(tp+fp)
		recall = float64(tp) / nX
		auprBase += float64((recallTemp - recall) * precision)
		recallTemp = recall
	}
	auprBase += float64(recall * precision)
	r.AUPRIn = auprBase
	// auprOut
	auprBase, recallTemp = 0.0, 1.0
	for k := len(diff) - 1; k >= 0; k-- {
		delta := diff[k]
		fp := count(X1, func(v float64) bool { return v > delta })
		tp := count(Y1, func(v float64) bool { return v > delta })
		if tp+fp == 0 {
			continue
		}
		precision = float64(tp) / float64(tp+fp)
		recall = float64(tp) / nY
		auprBase += float64((recallTemp - recall) * precision)
		recallTemp = recall
	}
	auprBase += float64(recall * precision)
	r.AUPROut = auprBase
	// detection
	errorBase := 1.0
	for _, delta := range diff {
		tpr_ := float64(count(X1, func(v float64) bool { return v > delta })) / nX
		error2 := float64(count(Y1, func(v float64) bool { return v < delta })) / nY
		errorBase = min(errorBase, (tpr_+error2)/2.0)
	}
	r.DetectionError = errorBase
	return r, ok
}

// l1Discrepancies returns n L1 distances of pairs of random probability
// vectors over k classes (values in [0, 2]); a fraction zero of them are
// exactly 0, and with round > 0 they are rounded to that many decimals.
func l1Discrepancies(rng *rand.Rand, n, k int, sharp, zero float64, round int) []float64 {
	d := make([]float64, n)
	p, q := make([]float64, k), make([]float64, k)
	for i := range d {
		if rng.Float64() < zero {
			continue
		}
		softmax(rng, p, sharp)
		softmax(rng, q, sharp)
		for c := range p {
			d[i] += math.Abs(p[c] - q[c])
		}
		if round > 0 {
			s := math.Pow(10, float64(round))
			d[i] = math.Round(d[i]*s) / s
		}
	}
	return d
}

func softmax(rng *rand.Rand, p []float64, sharp float64) {
	sum := 0.0
	for c := range p {
		p[c] = math.Exp(sharp * rng.NormFloat64())
		sum += p[c]
	}
	for c := range p {
		p[c] /= sum
	}
}

func negated(s []float64) []float64 {
	o := make([]float64, len(s))
	for k, v := range s {
		o[k] = -v
	}
	return o
}

// TestPaperMatchesTranscription compares the O(n log n) sweep with the
// direct transcription of test.py on random, tied and MCD-like inputs,
// bit for bit.
func TestPaperMatchesTranscription(t *testing.T) {
	rng := rand.New(rand.NewPCG(2019, 10))
	type gen func() (id, ood []float64)
	gens := map[string]gen{
		"normal": func() ([]float64, []float64) {
			return randomScores(rng, 1+rng.IntN(1500), false), randomScores(rng, 1+rng.IntN(1500), false)
		},
		"integer ties": func() ([]float64, []float64) {
			return randomScores(rng, 1+rng.IntN(1500), true), randomScores(rng, 1+rng.IntN(1500), true)
		},
		"negated L1": func() ([]float64, []float64) {
			return negated(l1Discrepancies(rng, 1000+rng.IntN(500), 10, 1, 0, 0)),
				negated(l1Discrepancies(rng, 1+rng.IntN(1500), 10, 3, 0, 0))
		},
		"negated L1 with zeros, rounded": func() ([]float64, []float64) {
			return negated(l1Discrepancies(rng, 1000+rng.IntN(1000), 10, 1, 0.05, 4)),
				negated(l1Discrepancies(rng, 1+rng.IntN(1500), 10, 3, 0.02, 4))
		},
		// Offsets landing exactly on other scores (d + 1e-4 == d' in float).
		"grid of 1e-4": func() ([]float64, []float64) {
			g := func(n int) []float64 {
				s := make([]float64, n)
				for k := range s {
					s[k] = -float64(rng.IntN(40)) * 1e-4
				}
				return s
			}
			return g(1 + rng.IntN(1200)), g(1 + rng.IntN(1200))
		},
		"small": func() ([]float64, []float64) {
			return randomScores(rng, 1+rng.IntN(4), rng.IntN(2) == 0), randomScores(rng, 1+rng.IntN(4), rng.IntN(2) == 0)
		},
	}
	for name, g := range gens {
		fallbacks := 0
		for range 6 {
			id, ood := g()
			want, ok := paperReference(id, ood)
			got, err := ComputePaper(id, ood)
			if err != nil {
				t.Fatal(err)
			}
			if got.FPR95Fallback == ok {
				t.Errorf("%s: fallback %v, transcription divides by zero: %v", name, got.FPR95Fallback, !ok)
			}
			if !ok {
				fallbacks++
				ex, _ := Compute(id, ood)
				want.FPR95 = ex.FPR95
			}
			if got.Report != want {
				t.Errorf("%s (%d ID, %d OOD):\n got %+v\nwant %+v", name, len(id), len(ood), got.Report, want)
			}
		}
		t.Logf("%s: %d of 6 fell back to the exact FPR95", name, fallbacks)
	}
}

// TestPaperAgreesWithNumPy compares paper mode with test.py's loops run in
// NumPy (testdata/gen_cases.py).
func TestPaperAgreesWithNumPy(t *testing.T) {
	worst, worstCase := 0.0, ""
	for _, c := range loadCases(t) {
		got, err := ComputePaper(c.ID, c.OOD)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if got.FPR95Fallback != c.Paper.Fallback {
			t.Errorf("%s: fallback %v, want %v", c.Name, got.FPR95Fallback, c.Paper.Fallback)
		}
		d := reportDiff(got.Report, c.Paper.Report)
		if d > 1e-12 {
			t.Errorf("%s:\n got %+v\nwant %+v", c.Name, got.Report, c.Paper.Report)
		}
		worst = max(worst, d)
		if d == worst && d > 0 {
			worstCase = c.Name
		}
	}
	t.Logf("largest |ours − NumPy test.py| = %.3g %s", worst, worstCase)
}

// TestPaperVersusExact measures, and logs, how far paper mode lies from exact
// mode on realistic inputs; the package documentation quotes these figures
// (go test -run PaperVersusExact -v ./metrics/).
func TestPaperVersusExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	normal := func(n int, mu float64) []float64 {
		s := make([]float64, n)
		for k := range s {
			s[k] = mu + rng.NormFloat64()
		}
		return s
	}
	rounded := func(s []float64, step float64) []float64 {
		for k := range s {
			s[k] = math.Round(s[k]/step) * step
		}
		return s
	}
	scaled := func(s []float64, scale, shift float64) []float64 {
		for k := range s {
			s[k] = shift + scale*s[k]
		}
		return s
	}
	mcdID := negated(l1Discrepancies(rng, 9000, 10, 1.2, 0, 0))
	mcdOOD := negated(l1Discrepancies(rng, 9000, 10, 2.5, 0, 0))
	msp := func(n int, sharp float64) []float64 {
		s := make([]float64, n)
		p := make([]float64, 10)
		for k := range s {
			softmax(rng, p, sharp)
			s[k] = slices.Max(p)
		}
		return s
	}
	cases := []struct {
		name    string
		id, ood []float64
	}{
		{"Gaussians N(1,1) vs N(0,1), 9000 each", normal(9000, 1), normal(9000, 0)},
		{"Gaussians N(2,1) vs N(0,1), 9000 each", normal(9000, 2), normal(9000, 0)},
		{"heavy ties: N(1,1) vs N(0,1) rounded to 0.5, 9000 each", rounded(normal(9000, 1), 0.5), rounded(normal(9000, 0), 0.5)},
		{"heavy ties: integers of N(2,2) vs N(0,2), 9000 each", rounded(normal(9000, 2), 1), rounded(normal(9000, 0), 1)},
		{"negated L1 discrepancies (MCD-like), 9000 each", mcdID, mcdOOD},
		{"MSP-like scores in [0.1, 1], 9000 each", msp(9000, 2.5), msp(9000, 1)},
		// ODIN at T = 1000 squeezes max-softmax scores to about 0.1 ± 3e-4 on
		// CIFAR-10, so test.py's 1e-4 offset is a third of a standard
		// deviation.
		{"ODIN-like: 0.1 + 3e-4·(N(1,1) vs N(0,1)), 9000 each", scaled(normal(9000, 1), 3e-4, 0.1), scaled(normal(9000, 0), 3e-4, 0.1)},
	}
	for _, c := range cases {
		ex, err := Compute(c.id, c.ood)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ComputePaper(c.id, c.ood)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s (fallback %v), paper − exact in percentage points:\n"+
			"  FPR95 %+.4f  detection error %+.4f  AUROC %+.4f  AUPR-In %+.4f  AUPR-Out %+.4f\n"+
			"  exact: FPR95 %.2f  DE %.2f  AUROC %.2f  AUPR-In %.2f  AUPR-Out %.2f", c.name, p.FPR95Fallback,
			100*(p.FPR95-ex.FPR95), 100*(p.DetectionError-ex.DetectionError), 100*(p.AUROC-ex.AUROC),
			100*(p.AUPRIn-ex.AUPRIn), 100*(p.AUPROut-ex.AUPROut),
			100*ex.FPR95, 100*ex.DetectionError, 100*ex.AUROC, 100*ex.AUPRIn, 100*ex.AUPROut)
	}
}

// FuzzPaperMatchesTranscription decodes bytes into small ID and OOD score
// sets on a grid of 5e-5 (so thresholds d + 1e-4 often land exactly on other
// scores) and checks the paper sweep against the transcription and the
// exact sweep against exactReference.
func FuzzPaperMatchesTranscription(f *testing.F) {
	f.Add([]byte{1, 2, 3, 200, 4, 5}, uint8(3), false)
	f.Add([]byte{0, 0, 0, 0}, uint8(2), true)
	f.Add([]byte{10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, uint8(5), false)
	f.Fuzz(func(t *testing.T, data []byte, split uint8, general bool) {
		if len(data) < 2 || len(data) > 3000 {
			return
		}
		k := 1 + int(split)%(len(data)-1)
		scores := make([]float64, len(data))
		for i, b := range data {
			scores[i] = -float64(b%64) * 5e-5 // discrepancies in [0, 0.00315]
			if general {
				scores[i] = 1 + scores[i]
			}
		}
		id, ood := scores[:k], scores[k:]
		want, ok := paperReference(id, ood)
		got, err := ComputePaper(id, ood)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			want.FPR95 = got.FPR95
		}
		if got.Report != want || got.FPR95Fallback == ok {
			t.Fatalf("id %v ood %v:\n got %+v\nwant %+v (ok %v)", id, ood, got, want, ok)
		}
		ex, _ := Compute(id, ood)
		if ref := exactReference(id, ood); reportDiff(ex, ref) > tolHand {
			t.Fatalf("exact: id %v ood %v:\n got %+v\nwant %+v", id, ood, ex, ref)
		}
	})
}

// exactReference computes the exact metrics by brute force, O(n²), straight
// from the definitions in the package documentation.
func exactReference(id, ood []float64) Report {
	ts := append(slices.Clone(id), ood...)
	slices.Sort(ts)
	ts = slices.Compact(ts)
	slices.Reverse(ts)
	ts = append([]float64{math.Inf(1)}, ts...)
	nI, nO := float64(len(id)), float64(len(ood))
	atLeast := func(s []float64, t float64) (n int) {
		for _, v := range s {
			if v >= t {
				n++
			}
		}
		return n
	}
	r := Report{FPR95: math.NaN(), DetectionError: 1}
	prevTP := 0
	for _, t := range ts {
		tp, fp := atLeast(id, t), atLeast(ood, t)
		tpr, fpr := float64(tp)/nI, float64(fp)/nO
		if math.IsNaN(r.FPR95) && tpr >= 0.95 {
			r.FPR95 = fpr
		}
		r.DetectionError = min(r.DetectionError, 0.5*(1-tpr)+0.5*fpr)
		if tp > prevTP {
			r.AUPRIn += float64(tp-prevTP) / nI * float64(tp) / float64(tp+fp)
		}
		prevTP = tp
	}
	// AUPR-Out: OOD positive, thresholds ascending, "OOD when score ≤ t".
	prevOOD := 0
	for k := len(ts) - 1; k > 0; k-- {
		t := ts[k]
		oodLE, idLE := len(ood)-atLeast(ood, math.Nextafter(t, math.Inf(1))), len(id)-atLeast(id, math.Nextafter(t, math.Inf(1)))
		if oodLE > prevOOD {
			r.AUPROut += float64(oodLE-prevOOD) / nO * float64(oodLE) / float64(oodLE+idLE)
		}
		prevOOD = oodLE
	}
	// AUROC: pairs, ties half.
	for _, a := range id {
		for _, b := range ood {
			switch {
			case a > b:
				r.AUROC++
			case a == b:
				r.AUROC += 0.5
			}
		}
	}
	r.AUROC /= nI * nO
	return r
}
