package metrics

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
)

// Tolerances. Hand-computed fractions are compared to 1e-12; scikit-learn to
// 1e-9 (rounding differs only in the last bits).
const (
	tolHand    = 1e-12
	tolSklearn = 1e-9
)

func reportDiff(got, want Report) float64 {
	return max(math.Abs(got.FPR95-want.FPR95), math.Abs(got.DetectionError-want.DetectionError),
		math.Abs(got.AUROC-want.AUROC), math.Abs(got.AUPRIn-want.AUPRIn), math.Abs(got.AUPROut-want.AUPROut))
}

// TestComputeHandCases checks cases worked out by hand; each says how.
func TestComputeHandCases(t *testing.T) {
	cases := []struct {
		name    string
		id, ood []float64
		want    Report
	}{{
		// Every ID score above every OOD score: the ROC curve passes through
		// (0, 1); precision is 1 at every recall step.
		name: "perfect separation", id: []float64{3, 4}, ood: []float64{1, 2},
		want: Report{FPR95: 0, DetectionError: 0, AUROC: 1, AUPRIn: 1, AUPROut: 1},
	}, {
		// Every ID score below every OOD score. TPR ≥ 0.95 needs threshold 1,
		// which accepts both OOD scores: FPR 1. Detection error: (0,0) and
		// (1,1) give 0.5, the points between more. AP-In: thresholds 2
		// (tp 1, fp 2, P 1/3) and 1 (tp 2, fp 2, P 1/2), each a recall step
		// of 1/2: 1/6 + 1/4 = 5/12; AP-Out is the mirror image.
		name: "reversed", id: []float64{1, 2}, ood: []float64{3, 4},
		want: Report{FPR95: 1, DetectionError: 0.5, AUROC: 0, AUPRIn: 5.0 / 12, AUPROut: 5.0 / 12},
	}, {
		// One threshold: the ROC curve is the diagonal (0,0)–(1,1), AUROC 1/2.
		// Precision at it is 5/12 for ID and 7/12 for OOD.
		name: "all tied, unequal sizes", id: []float64{1, 1, 1, 1, 1}, ood: []float64{1, 1, 1, 1, 1, 1, 1},
		want: Report{FPR95: 1, DetectionError: 0.5, AUROC: 0.5, AUPRIn: 5.0 / 12, AUPROut: 7.0 / 12},
	}, {
		// ID {3,2,2,1} vs OOD {2,1,0}. Thresholds 3,2,1,0 give (tp, fp) =
		// (1,0),(3,1),(4,2),(4,3); ROC (0,0),(0,1/4),(1/3,3/4),(2/3,1),(1,1).
		// FPR95 = 2/3 at threshold 1. Detection error min is at threshold 2:
		// 0.5·1/4 + 0.5·1/3 = 7/24. AUROC: pairs ID>OOD count 1, ties 1/2:
		// 3 + 2·2.5 + 1.5 = 9.5 of 12 = 19/24. AP-In = 1/4·1 + 2/4·3/4 +
		// 1/4·4/6 = 19/24. AP-Out (ascending: 0, 1, 2): 1/3·1 + 1/3·2/3 +
		// 1/3·3/6 = 13/18.
		name: "heavy ties, unequal sizes", id: []float64{3, 2, 2, 1}, ood: []float64{2, 1, 0},
		want: Report{FPR95: 2.0 / 3, DetectionError: 7.0 / 24, AUROC: 19.0 / 24, AUPRIn: 19.0 / 24, AUPROut: 13.0 / 18},
	}, {
		// 20 ID scores 1..20 and 5 OOD scores at 0.5, 5.5, 10.5, 15.5, 20.5.
		// TPR reaches 19/20 = 0.95 exactly (not overshot) at threshold 2,
		// which accepts 4 of 5 OOD: FPR95 = 0.8. At threshold k the error is
		// 0.5·(k−1)/20 + 0.5·#(OOD ≥ k)/5, least at k = 1: 0.4. AUROC: ID
		// 1–5, 6–10, 11–15, 16–20 beat 1, 2, 3, 4 OOD: 50 of 100 pairs.
		// AP-In = (1/20)·Σ_k tp/(tp+fp) with tp = 21−k and fp = 1, 2, 3, 4
		// for k in 16–20, 11–15, 6–10, 1–5 = 339711643/433540800 (exact
		// fractions in Python). AP-Out over the OOD scores ascending:
		// (1 + 2/7 + 3/13 + 4/19 + 5/25)/5 = 16659/43225.
		name: "TPR exactly 0.95",
		id:   []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20},
		ood:  []float64{0.5, 5.5, 10.5, 15.5, 20.5},
		want: Report{FPR95: 0.8, DetectionError: 0.4, AUROC: 0.5, AUPRIn: 339711643.0 / 433540800, AUPROut: 16659.0 / 43225},
	}, {
		name: "one each, separated", id: []float64{1}, ood: []float64{0},
		want: Report{FPR95: 0, DetectionError: 0, AUROC: 1, AUPRIn: 1, AUPROut: 1},
	}, {
		// One threshold holding both: precision 1/2 for either class.
		name: "one each, tied", id: []float64{0}, ood: []float64{0},
		want: Report{FPR95: 1, DetectionError: 0.5, AUROC: 0.5, AUPRIn: 0.5, AUPROut: 0.5},
	}, {
		// Threshold 1 accepts only the OOD score (recall 0), threshold 0
		// both: AP-In = 1·1/2.
		name: "one each, reversed", id: []float64{0}, ood: []float64{1},
		want: Report{FPR95: 1, DetectionError: 0.5, AUROC: 0, AUPRIn: 0.5, AUPROut: 0.5},
	}, {
		// −0 and +0 are the same score: a tie.
		name: "signed zeros tie", id: []float64{math.Copysign(0, -1)}, ood: []float64{0},
		want: Report{FPR95: 1, DetectionError: 0.5, AUROC: 0.5, AUPRIn: 0.5, AUPROut: 0.5},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Compute(c.id, c.ood)
			if err != nil {
				t.Fatal(err)
			}
			check := func(name string, got, want float64) {
				if math.Abs(got-want) > tolHand {
					t.Errorf("%s = %.17g, want %.17g", name, got, want)
				}
			}
			check("FPR95", got.FPR95, c.want.FPR95)
			check("DetectionError", got.DetectionError, c.want.DetectionError)
			check("AUROC", got.AUROC, c.want.AUROC)
			check("AUPRIn", got.AUPRIn, c.want.AUPRIn)
			check("AUPROut", got.AUPROut, c.want.AUPROut)
		})
	}
}

func TestComputeRejectsBadInput(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	cases := []struct {
		name    string
		id, ood []float64
		want    string
	}{
		{"empty id", nil, []float64{1}, "metrics: id: no scores"},
		{"empty ood", []float64{1}, []float64{}, "metrics: ood: no scores"},
		{"nan ood", []float64{1}, make17(nan), "metrics: ood score 17 (0-based) is NaN"},
		{"inf id", []float64{1, inf}, []float64{1}, "metrics: id score 1 (0-based) is +Inf"},
		{"-inf ood", []float64{1}, []float64{-inf}, "metrics: ood score 0 (0-based) is -Inf"},
	}
	for _, c := range cases {
		for _, m := range []Mode{Exact, Paper} {
			_, err := m.Compute(c.id, c.ood)
			if err == nil || err.Error() != c.want {
				t.Errorf("%s %v: error %v, want %q", c.name, m, err, c.want)
			}
		}
		if _, err := ROC(c.id, c.ood); err == nil {
			t.Errorf("%s: ROC accepted it", c.name)
		}
		if _, err := Bootstrap(c.id, c.ood, BootstrapConfig{Resamples: 10, Level: 0.9}); err == nil {
			t.Errorf("%s: Bootstrap accepted it", c.name)
		}
	}
	if _, err := Compute(nil, []float64{1}); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty input: %v is not ErrEmpty", err)
	}
}

// make17 returns 18 scores whose index 17 is v.
func make17(v float64) []float64 {
	s := make([]float64, 18)
	s[17] = v
	return s
}

func TestComputeLeavesInputsAlone(t *testing.T) {
	id, ood := []float64{3, 1, 2}, []float64{2, 0, 5}
	idc, oodc := slices.Clone(id), slices.Clone(ood)
	for _, m := range []Mode{Exact, Paper} {
		if _, err := m.Compute(id, ood); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Bootstrap(id, ood, BootstrapConfig{Resamples: 5, Level: 0.9}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(id, idc) || !slices.Equal(ood, oodc) {
		t.Errorf("inputs changed: %v %v", id, ood)
	}
}

// TestComputeSymmetries checks random inputs against the brute-force
// exactReference and identities that hold whatever the data: order does not
// matter; exchanging the classes and negating the scores keeps AUROC and
// swaps AUPR-In and AUPR-Out.
func TestComputeSymmetries(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 50 {
		id, ood := randomScores(rng, 1+rng.IntN(60), trial%3 == 0), randomScores(rng, 1+rng.IntN(60), trial%3 == 0)
		r, err := Compute(id, ood)
		if err != nil {
			t.Fatal(err)
		}
		if ref := exactReference(id, ood); reportDiff(r, ref) > tolHand {
			t.Fatalf("brute force disagrees:\n got %+v\nwant %+v", r, ref)
		}
		rng.Shuffle(len(id), func(i, j int) { id[i], id[j] = id[j], id[i] })
		r2, _ := Compute(id, ood)
		if r2 != r {
			t.Fatalf("order changed the report: %+v vs %+v", r, r2)
		}
		neg := func(s []float64) []float64 {
			o := make([]float64, len(s))
			for k, v := range s {
				o[k] = -v
			}
			return o
		}
		m, _ := Compute(neg(ood), neg(id))
		if math.Abs(m.AUROC-r.AUROC) > tolHand || math.Abs(m.AUPRIn-r.AUPROut) > tolHand ||
			math.Abs(m.AUPROut-r.AUPRIn) > tolHand {
			t.Fatalf("mirror: %+v vs %+v", m, r)
		}
		for _, v := range []float64{r.FPR95, r.DetectionError, r.AUROC, r.AUPRIn, r.AUPROut} {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("metric out of [0,1]: %+v", r)
			}
		}
		if r.DetectionError > 0.5 {
			t.Fatalf("detection error above 0.5: %+v", r)
		}
	}
}

// randomScores returns n normal scores, or integers in [0, 5) when tied.
func randomScores(rng *rand.Rand, n int, tied bool) []float64 {
	s := make([]float64, n)
	for k := range s {
		if tied {
			s[k] = float64(rng.IntN(5))
		} else {
			s[k] = rng.NormFloat64()
		}
	}
	return s
}

func TestROC(t *testing.T) {
	// The hand case of TestComputeHandCases.
	c, err := ROC([]float64{3, 2, 2, 1}, []float64{2, 1, 0})
	if err != nil {
		t.Fatal(err)
	}
	want := Curve{
		Thresholds: []float64{math.Inf(1), 3, 2, 1, 0},
		FPR:        []float64{0, 0, 1.0 / 3, 2.0 / 3, 1},
		TPR:        []float64{0, 0.25, 0.75, 1, 1},
	}
	if !slices.Equal(c.Thresholds, want.Thresholds) || !slices.Equal(c.FPR, want.FPR) || !slices.Equal(c.TPR, want.TPR) {
		t.Errorf("ROC = %+v, want %+v", c, want)
	}
	// The trapezoid area under any ROC curve is Compute's AUROC.
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 20 {
		id, ood := randomScores(rng, 1+rng.IntN(200), trial%2 == 0), randomScores(rng, 1+rng.IntN(200), trial%2 == 0)
		c, _ := ROC(id, ood)
		area := 0.0
		for k := 1; k < len(c.FPR); k++ {
			area += (c.FPR[k] - c.FPR[k-1]) * (c.TPR[k] + c.TPR[k-1]) / 2
		}
		r, _ := Compute(id, ood)
		if math.Abs(area-r.AUROC) > tolHand {
			t.Errorf("trapezoid %v, AUROC %v", area, r.AUROC)
		}
		if c.FPR[len(c.FPR)-1] != 1 || c.TPR[len(c.TPR)-1] != 1 {
			t.Errorf("ROC does not end at (1, 1)")
		}
	}
}

func TestFPRAtTPR(t *testing.T) {
	id, ood := []float64{3, 2, 2, 1}, []float64{2, 1, 0}
	for _, c := range []struct{ tpr, want float64 }{
		{0.25, 0}, {0.26, 1.0 / 3}, {0.75, 1.0 / 3}, {0.95, 2.0 / 3}, {1, 2.0 / 3},
	} {
		got, err := FPRAtTPR(id, ood, c.tpr)
		if err != nil || got != c.want {
			t.Errorf("FPRAtTPR(%v) = %v, %v; want %v", c.tpr, got, err, c.want)
		}
	}
	for _, bad := range []float64{0, -1, 1.5, math.NaN()} {
		if _, err := FPRAtTPR(id, ood, bad); err == nil {
			t.Errorf("FPRAtTPR(%v) accepted", bad)
		}
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{Exact, Paper} {
		got, err := ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseMode("trapezoid"); err == nil || !strings.Contains(err.Error(), `"trapezoid"`) {
		t.Errorf("ParseMode(trapezoid): %v", err)
	}
}

// testCase is one case of testdata/cases.json, written by
// testdata/gen_cases.py with scikit-learn (exact, and OpenOOD's OOD-positive
// FPR95) and a transcription of the MCD authors' test.py in NumPy (paper).
type testCase struct {
	Name  string    `json:"name"`
	ID    []float64 `json:"id"`
	OOD   []float64 `json:"ood"`
	Exact Report    `json:"exact"`
	Paper struct {
		Report
		Fallback bool `json:"fallback"`
	} `json:"paper"`
	OODPositive struct {
		FPR95 float64 `json:"fpr95"`
		AUROC float64 `json:"auroc"`
	} `json:"ood_positive"`
}

func loadCases(t testing.TB) []testCase {
	t.Helper()
	data, err := os.ReadFile("testdata/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []testCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("testdata/cases.json: %v", err)
	}
	if len(f.Cases) == 0 {
		t.Fatal("testdata/cases.json: no cases")
	}
	return f.Cases
}

// TestAgreesWithScikitLearn compares exact mode with scikit-learn 1.2.1's
// values (testdata/gen_cases.py) to 1e-9 and reports the largest difference.
func TestAgreesWithScikitLearn(t *testing.T) {
	worst, worstCase := 0.0, ""
	for _, c := range loadCases(t) {
		got, err := Compute(c.ID, c.OOD)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		d := reportDiff(got, c.Exact)
		if d > tolSklearn {
			t.Errorf("%s (%d ID, %d OOD):\n got %+v\nwant %+v", c.Name, len(c.ID), len(c.OOD), got, c.Exact)
		}
		if d > worst {
			worst, worstCase = d, c.Name
		}
	}
	t.Logf("largest |ours − scikit-learn| = %.3g (%s)", worst, worstCase)
}

// TestOODPositiveAgreesWithScikitLearn checks FPR95OODPositive against
// OpenOOD v1.5's computation with scikit-learn (roc_curve of the OOD labels
// against the negated scores, drop_intermediate as default) on every
// committed case, and that the AUROC is the same number in both
// conventions.
func TestOODPositiveAgreesWithScikitLearn(t *testing.T) {
	for _, c := range loadCases(t) {
		got, err := FPR95OODPositive(c.ID, c.OOD)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		r, err := Compute(c.ID, c.OOD)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-c.OODPositive.FPR95) > 1e-9 || math.Abs(r.AUROC-c.OODPositive.AUROC) > 1e-9 {
			t.Errorf("%s: OOD-positive FPR95 %v, AUROC %v; scikit-learn %v, %v", c.Name, got, r.AUROC, c.OODPositive.FPR95, c.OODPositive.AUROC)
		}
	}
	if _, err := ParseConvention("ood"); err == nil {
		t.Error("convention \"ood\" accepted")
	}
}
