package nets

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The paper's networks have the published sizes. The reference counts are
// those of the single-head PyTorch implementations the papers used for 10
// classes (DenseNet-BC-100, k = 12: 769,162, "0.8M" in Huang et al., CVPR
// 2017, Table 2; WRN-28-10: 36,479,194, "36.5M" in Zagoruyko & Komodakis,
// BMVC 2016, Table 3); our second head adds FeatureDim·10 + 10.
func TestPaperParameterCounts(t *testing.T) {
	for _, c := range []struct {
		name       string
		singleHead int
	}{
		{"densenet-bc-100", 769162},
		{"wrn-28-10", 36479194},
	} {
		m := newModel(t, c.name)
		secondHead := m.FeatureDim()*10 + 10
		if got := m.NumParams() - secondHead; got != c.singleHead {
			t.Errorf("%s: %d parameters with one head, want %d (the published implementation's)", c.name, got, c.singleHead)
		}
	}
}

// A few SGD steps of each paper network run and keep the loss finite. Under
// -short only DenseNet-BC-100 runs (WRN-28-10 takes about 15 GFLOP per
// training image).
func TestPaperNetworksTrain(t *testing.T) {
	for _, c := range []struct {
		name         string
		batch, steps int
		long         bool
	}{
		{"densenet-bc-100", 8, 3, false},
		{"wrn-28-10", 2, 2, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.long && testing.Short() {
				t.Skip("-short")
			}
			p, err := newModel(t, c.name).TrainProgram(c.batch)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			copy(p.Input(), randSlice(rand.New(rand.NewPCG(2, 2)), len(p.Input())))
			for i := range p.Labels() {
				p.Labels()[i] = float32(i % 10)
			}
			opt := NewSGD(0.9, 1e-4, false)
			var losses []float64
			for range c.steps {
				if err := p.Run(); err != nil {
					t.Fatal(err)
				}
				if l := p.Loss(); math.IsNaN(l) || math.IsInf(l, 0) || l <= 0 {
					t.Fatalf("loss %v", l)
				}
				losses = append(losses, p.Loss())
				if err := opt.Step(0.01, p.Params(), p.Grads()); err != nil {
					t.Fatal(err)
				}
			}
			// The same batch again and again: the loss must go down.
			if losses[len(losses)-1] >= losses[0] {
				t.Errorf("loss did not fall on a repeated batch: %v", losses)
			}
		})
	}
}

// newModel builds a 10-class model of the named architecture, seed 1.
func newModel(t testing.TB, name string) *Model {
	t.Helper()
	spec, err := ParseSpec(name)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(spec, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Evaluation programs that fuse each batch norm into the convolution before
// it give the same outputs as the unfused graph, for every family, with
// running statistics and affine parameters away from their initial values.
func TestFusedEvalMatchesUnfused(t *testing.T) {
	for _, name := range []string{"small", "resnet9-8", "densenet-bc-40", "wrn-10-2"} {
		t.Run(name, func(t *testing.T) {
			m := newModel(t, name)
			rng := rand.New(rand.NewPCG(5, 5))
			for _, st := range m.bn {
				for i := range st.Mean {
					st.Mean[i] = float32(0.3 * rng.NormFloat64())
					st.Var[i] = float32(0.5 + rng.Float64())
				}
			}
			for _, p := range m.Params() {
				if len(p.Value.Shape()) == 1 {
					for i := range p.Data() {
						p.Data()[i] += float32(0.2 * rng.NormFloat64())
					}
				}
			}
			run := func(fuse bool) (z1, z2, feat []float32) {
				old := fuseEvalBN
				fuseEvalBN = fuse
				defer func() { fuseEvalBN = old }()
				p, err := m.EvalProgram(6)
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				copy(p.Input(), randSlice(rand.New(rand.NewPCG(6, 6)), len(p.Input())))
				for range 2 { // a second run must not apply anything twice
					if err := p.Run(); err != nil {
						t.Fatal(err)
					}
				}
				fused := 0
				for _, n := range p.g.AllNodes() {
					if bn, ok := n.Op().(*bnOp); ok && bn.fused {
						fused++
					}
				}
				if fuse != (fused > 0) {
					t.Fatalf("fuse %v: %d batch norms fused", fuse, fused)
				}
				a, b := p.Logits()
				return append([]float32(nil), a...), append([]float32(nil), b...), append([]float32(nil), p.Features()...)
			}
			z1, z2, f := run(false)
			fz1, fz2, ff := run(true)
			closeSlices(t, "head 1", fz1, z1, 1e-5)
			closeSlices(t, "head 2", fz2, z2, 1e-5)
			closeSlices(t, "features", ff, f, 1e-5)
		})
	}
}
