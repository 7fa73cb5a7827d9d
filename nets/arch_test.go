package nets

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mcdood/mcdood/internal/numdiff"
	G "gorgonia.org/gorgonia"
)

// The paper's networks have the published sizes. The reference counts are
// those of the single-head PyTorch implementations the papers used for 10
// classes (DenseNet-BC-100, k = 12: 769,162, "0.8M" in Huang et al., CVPR
// 2017, Table 2; WRN-28-10: 36,479,194, "36.5M" in Zagoruyko & Komodakis,
// BMVC 2016, Table 3), and of akamaster's ResNet-56 (853,018 trainable
// values in its resnet56-4bfd9763.th, "0.85M" in its README); our second
// head adds FeatureDim·10 + 10.
func TestPaperParameterCounts(t *testing.T) {
	for _, c := range []struct {
		name       string
		singleHead int
	}{
		{"densenet-bc-100", 769162},
		{"wrn-28-10", 36479194},
		{"resnet-cifar-56", 853018},
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
			p, err := newModel(t, c.name).TrainProgram(c.batch, 0)
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
	for _, name := range []string{"small", "resnet9-8", "densenet-bc-40", "wrn-10-2", "resnet-cifar-14"} {
		t.Run(name, func(t *testing.T) {
			m := newModel(t, name)
			perturbModel(m, rand.New(rand.NewPCG(5, 5)))
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
					if blk, ok := n.Op().(*denseBlockOp); ok && blk.fused {
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

// airbench-64-128-128 is airbench93's network with two heads: its parameter
// count by hand (whitening 24·12 + 24, the blocks' convolutions and shifts,
// two bias-free heads 2·10·128), its frozen whitening filters outside the
// training gradients, and its layer sizes (31 → 15 → 7 → 3 → 1).
func TestAirbench(t *testing.T) {
	m := newModel(t, "airbench-64-128-128")
	want := 24*12 + 24 + (64*24*9 + 64 + 64*64*9 + 64) + (128*64*9 + 128 + 128*128*9 + 128) + (128*128*9 + 128 + 128*128*9 + 128) + 2*10*128
	if n := m.NumParams(); n != want || m.FeatureDim() != 128 {
		t.Fatalf("%d parameters, %d features; want %d and 128", n, m.FeatureDim(), want)
	}
	p, err := m.TrainProgram(2, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, par := range p.Params() {
		if par.Name == "whiten.w" {
			t.Fatal("the whitening filters are trained")
		}
	}
	roles := map[string]Role{}
	for _, par := range m.Params() {
		roles[par.Name] = par.Role
	}
	if roles["whiten.w"] != Frozen || roles["whiten.b"] != EarlyOnly || roles["block2.bn1.beta"] != NormShift || roles["block1.conv1.w"] != Trained {
		t.Errorf("roles %v", roles)
	}
	if _, ok := m.byName["block1.bn1.gamma"]; ok {
		t.Error("airbench's batch norms have a learned scale")
	}
}

// initWhitening makes the whitening layer's first twelve filters whiten the
// images' 2×2 patches: their outputs' second moments are λ/(λ + 5e-4) on the
// diagonal (≈ 1 here) and 0 off it; the other twelve are their negatives.
func TestWhiteningFilters(t *testing.T) {
	m := newModel(t, "airbench-64-128-128")
	src := toyData(300, 3, 4)
	// Correlate neighbouring pixels, as in images, with a spread large
	// enough that every eigenvalue dwarfs the 5e-4 added to it.
	for i := len(src.pixels) - 1; i > 0; i-- {
		src.pixels[i] = 10 * (0.6*src.pixels[i] + 0.4*src.pixels[i-1])
	}
	if err := m.InitFromData(src); err != nil {
		t.Fatal(err)
	}
	w := m.byName["whiten.w"].Data()
	var second [whitenPatch][whitenPatch]float64
	n := 0
	for i := 0; i < src.Len(); i++ {
		img := src.pixels[i*ImageSize : (i+1)*ImageSize]
		for oy := 0; oy < ImageSide-1; oy++ {
			for ox := 0; ox < ImageSide-1; ox++ {
				var y [whitenPatch]float64
				for f := range whitenPatch {
					for c := range ImageChannels {
						for ky := range 2 {
							for kx := range 2 {
								y[f] += float64(w[f*whitenPatch+(c*2+ky)*2+kx]) * float64(img[(c*ImageSide+oy+ky)*ImageSide+ox+kx])
							}
						}
					}
				}
				for a := range whitenPatch {
					for b := range whitenPatch {
						second[a][b] += y[a] * y[b]
					}
				}
				n++
			}
		}
	}
	for a := range whitenPatch {
		for b := range whitenPatch {
			v, want := second[a][b]/float64(n), 0.0
			if a == b {
				want = 1
			}
			if math.Abs(v-want) > 0.02 {
				t.Errorf("whitened second moment [%d][%d] = %.4f, want %.0f", a, b, v, want)
			}
		}
		for e := range whitenPatch {
			if w[(a+whitenPatch)*whitenPatch+e] != -w[a*whitenPatch+e] {
				t.Fatalf("filter %d is not the negative of filter %d", a+whitenPatch, a)
			}
		}
	}
}

// The CIFAR ResNet (arch_resnet_cifar.go): depths 6n+2 only; 64 features;
// option A's shortcut is x[:, :, ::2, ::2] with planes/4 zero channels on
// each side, checked on a hand-made input; whole-network gradients (the
// pre-training step and ODIN's input gradient, which pass through the
// shortcuts) agree with finite differences.
func TestResNetCIFAR(t *testing.T) {
	for _, bad := range []string{"resnet-cifar-57", "resnet-cifar-2", "resnet-cifar-x"} {
		if _, err := ParseSpec(bad); err == nil {
			t.Errorf("%s parsed", bad)
		}
	}
	m := newModel(t, "resnet-cifar-8")
	if m.FeatureDim() != 64 {
		t.Errorf("%d features, want 64", m.FeatureDim())
	}
	if mean, std := m.Spec.Normalization(); mean != ImageNetMean || std != ImageNetStd {
		t.Errorf("normalisation %v, %v; want ImageNet's", mean, std)
	}

	// The shortcut alone: channel c of a (2, 1, 4, 4) input lands on
	// channel c+1 of (4, 1, 2, 2), from pixels (0,0), (0,2), (2,0), (2,2).
	b := newBuilder(m, false, nil)
	xin, xv := b.input("x", 2, 1, 4, 4)
	for i := range f32(xv) {
		f32(xv)[i] = float32(i)
	}
	y := b.shortcutA(xin, 4)
	if b.err != nil {
		t.Fatal(b.err)
	}
	vm := G.NewTapeMachine(b.g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 0, 0, 0, 0, 2, 8, 10, 16, 18, 24, 26, 0, 0, 0, 0}
	if got := f32(y.Value()); !slices.Equal(got, want) {
		t.Errorf("shortcut %v, want %v", got, want)
	}

	rng := rand.New(rand.NewPCG(7, 7))
	perturbModel(m, rng)
	t.Run("pre-training", func(t *testing.T) {
		p, err := m.TrainProgram(2, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		fillInputs(p, rng, 10, []Tensor{p.x}, p.y)
		checkProgramGrads(t, p, rng, nil)
	})
	t.Run("input gradient", func(t *testing.T) {
		ig, err := m.InputGradProgram(2, 1, Head1)
		if err != nil {
			t.Fatal(err)
		}
		defer ig.Close()
		fillInputs(ig, rng, 10, []Tensor{ig.x}, ig.y)
		// The 30 largest components (up to 0.01), with a step small enough
		// for the ReLUs' kinks: the error is 2% at a step of 0.003 (as for
		// wrn-10-2 and resnet9-8) and 7% at 0.1.
		largest := func(analytic []float32) []int {
			picks := rng.Perm(len(analytic))
			slices.SortFunc(picks, func(a, b int) int { return cmp.Compare(math.Abs(float64(analytic[b])), math.Abs(float64(analytic[a]))) })
			t.Logf("largest |∂L/∂x| %.3g", math.Abs(float64(analytic[picks[0]])))
			return picks[:30]
		}
		checkInputGrad(t, ig, largest, numdiff.Fixed(3e-3), 2e-4, 3e-2)
	})
}
