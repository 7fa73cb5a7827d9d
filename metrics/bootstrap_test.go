package metrics

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBootstrapDeterministicAndSensible(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	id, ood := randomScores(rng, 2000, false), randomScores(rng, 1500, false)
	for k := range id {
		id[k]++
	}
	for _, mode := range []Mode{Exact, Paper} {
		cfg := BootstrapConfig{Mode: mode, Resamples: 200, Level: 0.9, Seed: 42}
		a, err := Bootstrap(id, ood, cfg)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Bootstrap(id, ood, cfg)
		if a != b {
			t.Errorf("%v: same seed, different intervals: %+v vs %+v", mode, a, b)
		}
		cfg.Seed = 43
		if c, _ := Bootstrap(id, ood, cfg); c == a {
			t.Errorf("%v: seeds 42 and 43 gave identical intervals", mode)
		}
		point, _ := mode.Compute(id, ood)
		pv := []float64{point.FPR95, point.DetectionError, point.AUROC, point.AUPRIn, point.AUPROut}
		iv := []Interval{a.FPR95, a.DetectionError, a.AUROC, a.AUPRIn, a.AUPROut}
		for k := range pv {
			// The point estimate of a smooth statistic lies inside its 90%
			// percentile interval, which for a few thousand scores is a few
			// points wide (AUROC's standard error is about 0.008 here).
			if !(iv[k].Low <= pv[k] && pv[k] <= iv[k].High) {
				t.Errorf("%v metric %d: %v outside %+v", mode, k, pv[k], iv[k])
			}
			if w := iv[k].High - iv[k].Low; !(w > 0.001 && w < 0.1) {
				t.Errorf("%v metric %d: interval %+v width %v", mode, k, iv[k], w)
			}
		}
	}
}

func TestBootstrapPerfectSeparation(t *testing.T) {
	// Every resample is perfectly separated too: degenerate intervals.
	iv, err := Bootstrap([]float64{5, 6, 7}, []float64{1, 2}, BootstrapConfig{Resamples: 50, Level: 0.95, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := Intervals{
		FPR95: Interval{0, 0}, DetectionError: Interval{0, 0},
		AUROC: Interval{1, 1}, AUPRIn: Interval{1, 1}, AUPROut: Interval{1, 1},
	}
	if iv != want {
		t.Errorf("got %+v, want %+v", iv, want)
	}
}

// TestBootstrapResampleIsSorted checks the counting resampler: output sorted,
// of the input's length, drawn from the input, counts left zeroed.
func TestBootstrapResampleIsSorted(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	in := []float64{-2, -1, -1, 0, 3, 8}
	count := make([]int32, len(in))
	var out []float64
	seen := map[float64]bool{}
	for range 100 {
		out = resample(rng, in, count, out)
		if len(out) != len(in) || !slices.IsSorted(out) {
			t.Fatalf("resample %v", out)
		}
		for _, v := range out {
			if !slices.Contains(in, v) {
				t.Fatalf("resample %v has %v", out, v)
			}
			seen[v] = true
		}
		for _, c := range count {
			if c != 0 {
				t.Fatal("counts not reset")
			}
		}
	}
	if len(seen) != 5 {
		t.Errorf("100 resamples drew only %v", seen)
	}
}

func TestQuantile(t *testing.T) {
	v := []float64{1, 2, 3, 4, 5}
	for _, c := range []struct{ q, want float64 }{
		// NumPy: np.percentile([1,2,3,4,5], [0, 2.5, 50, 97.5, 100]) =
		// 1, 1.1, 3, 4.9, 5.
		{0, 1}, {0.025, 1.1}, {0.5, 3}, {0.975, 4.9}, {1, 5},
	} {
		if got := quantile(v, c.q); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
}

func TestBootstrapRejectsBadConfig(t *testing.T) {
	id, ood := []float64{1, 2}, []float64{0}
	for _, cfg := range []BootstrapConfig{
		{Resamples: 1, Level: 0.95},
		{Resamples: 10, Level: 0},
		{Resamples: 10, Level: 1},
		{Resamples: 10, Level: math.NaN()},
		{Resamples: 10, Level: 0.95, Mode: Mode(7)},
	} {
		if _, err := Bootstrap(id, ood, cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

// benchScores returns n ID scores from N(1,1) and n OOD scores from N(0,1).
func benchScores(n int) (id, ood []float64) {
	rng := rand.New(rand.NewPCG(1, 1))
	id, ood = make([]float64, n), make([]float64, n)
	for k := range id {
		id[k] = 1 + rng.NormFloat64()
		ood[k] = rng.NormFloat64()
	}
	return id, ood
}

// BenchmarkReport1M: 1,000,000 ID + 1,000,000 OOD scores, all five metrics,
// exact mode (go test -run '^$' -bench Report1M -benchtime 3x ./metrics/).
func BenchmarkReport1M(b *testing.B) {
	id, ood := benchScores(1_000_000)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Compute(id, ood); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPaper1M is BenchmarkReport1M in paper mode.
func BenchmarkPaper1M(b *testing.B) {
	id, ood := benchScores(1_000_000)
	b.ResetTimer()
	for b.Loop() {
		if _, err := ComputePaper(id, ood); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBootstrap10k: 100 resamples of 10,000 + 10,000 scores, the size
// of a CIFAR test set against one OOD set.
func BenchmarkBootstrap10k(b *testing.B) {
	id, ood := benchScores(10_000)
	for b.Loop() {
		if _, err := Bootstrap(id, ood, BootstrapConfig{Resamples: 100, Level: 0.95, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSortedFloats(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	special := []float64{0, math.Copysign(0, -1), math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64,
		math.MaxFloat64, -math.MaxFloat64, 1, -1, 1e-300, -1e300}
	for _, n := range []int{1, 5, radixMin - 1, radixMin, 1000, 70_000} {
		s := make([]float64, n)
		for k := range s {
			switch rng.IntN(4) {
			case 0:
				s[k] = special[rng.IntN(len(special))]
			case 1:
				s[k] = float64(rng.IntN(7) - 3)
			case 2:
				s[k] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(40)-20))
			default:
				s[k] = math.Float64frombits(rng.Uint64()&^(0x7ff<<52) | uint64(rng.IntN(2046)+1)<<52)
			}
		}
		in := slices.Clone(s)
		got := sortedFloats(s)
		if !slices.Equal(s, in) {
			t.Fatal("sortedFloats changed its input")
		}
		want := slices.Clone(s)
		slices.Sort(want)
		// slices.Sort may order −0 and +0 either way; compare as numbers
		// and check the multiset of bits.
		if !slices.Equal(got, want) || !slices.IsSorted(got) {
			t.Fatalf("n=%d: radix order differs from slices.Sort", n)
		}
		bits := func(f []float64) []uint64 {
			o := make([]uint64, len(f))
			for k, v := range f {
				o[k] = math.Float64bits(v)
			}
			slices.Sort(o)
			return o
		}
		if !slices.Equal(bits(got), bits(in)) {
			t.Fatalf("n=%d: radix sort lost or changed values", n)
		}
	}
}
