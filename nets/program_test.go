package nets

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mcdood/mcdood/internal/numdiff"
)

// fillInputs puts random images and labels into a program's inputs.
func fillInputs(p *Program, rng *rand.Rand, classes int, images []Tensor, labels ...Tensor) {
	for _, x := range images {
		copy(p.Data(x), randSlice(rng, len(p.Data(x))))
	}
	for _, y := range labels {
		for i := range p.Data(y) {
			p.Data(y)[i] = float32(rng.IntN(classes))
		}
	}
}

// checkProgramGrads compares a training program's parameter gradients with
// finite differences of loss (a few elements of every parameter tensor);
// objective, when not nil, gives the loss whose gradient a parameter gets.
func checkProgramGrads(t *testing.T, p *Program, rng *rand.Rand, objective func(par *Param) func() float64) {
	t.Helper()
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	grads := p.Grads()
	for i, par := range p.Params() {
		analytic := append([]float32(nil), grads[i]...)
		loss := p.Loss
		if objective != nil {
			loss = objective(par)
		}
		run := func() float64 {
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
			return loss()
		}
		picks := rng.Perm(len(par.Data()))[:min(4, len(par.Data()))]
		numdiff.Check(t, par.Name, run, par.Data(), analytic, picks, numdiff.Fixed(1e-2), 3e-3, 3e-2)
	}
}

// TestTwoHeadNetworkGradients checks whole two-head networks end to end
// against finite differences: the pre-training step; a composed step with
// every piece of the Graph API — detached features, the extractor applied
// to a second batch, mean entropies joined by a difference and a hinge (the
// shape of MCD's Step B); and the input gradient ODIN uses (evaluation-mode
// BN, temperature 1000, both heads).
func TestTwoHeadNetworkGradients(t *testing.T) {
	spec, _ := ParseSpec("small")
	m, err := New(spec, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	t.Run("pre-training", func(t *testing.T) {
		p, err := m.TrainProgram(6, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		fillInputs(p, rng, 5, []Tensor{p.x}, p.y)
		checkProgramGrads(t, p, rng, nil)
	})
	t.Run("composed", func(t *testing.T) {
		g := m.NewGraph(Training)
		x, y, u := g.Images(6), g.Labels(6), g.Images(5)
		f := g.Features(x)
		ce1, ce2 := g.CrossEntropy(g.Head(1, f), y), g.CrossEntropy(g.Head(2, g.Detach(f)), y)
		fu := g.Features(u)
		u1, u2 := g.Head(1, fu), g.Head(2, fu)
		gap := g.Hinge(1.2, g.Sub(g.MeanEntropy(u1), g.MeanEntropy(u2)))
		p, err := g.Train(g.Sum(ce1, ce2, gap))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		fillInputs(p, rng, 5, []Tensor{x, u}, y)
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		if p.Scalar(gap) <= 0 {
			t.Fatalf("hinge inactive (%v): the check would not reach the entropies", p.Scalar(gap))
		}
		// The extractor does not see CE2 (its features are detached there).
		checkProgramGrads(t, p, rng, func(par *Param) func() float64 {
			if par.Name == "head2.w" || par.Name == "head2.b" || par.Name == "head1.w" || par.Name == "head1.b" {
				return p.Loss
			}
			return func() float64 { return p.Scalar(ce1) + p.Scalar(gap) }
		})
	})
	t.Run("entropy margin", func(t *testing.T) {
		// Margin 3 exceeds any entropy gap of 5 classes (≤ log 5), so the
		// hinge is active and the check reaches both batches' entropies.
		p, err := m.EntropyMarginProgram(6, 4, 0.2, 3, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		fillInputs(p.Program, rng, 5, []Tensor{p.x, p.Outliers}, p.y)
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		// The loss from the logits, independently: each head's smoothed CE
		// plus 0.5·max(0, 3 + H̄(in) − H̄(out)).
		want := 0.0
		for k, z := range [][]float32{p.Data(p.z1), p.Data(p.z2)} {
			hIn, ce := entropyAndSmoothedCE(z, p.Data(p.y), 5, 0.2)
			hOut, _ := entropyAndSmoothedCE(p.Data(p.OutlierLogits[k]), nil, 5, 0)
			want += ce + 0.5*math.Max(0, 3+hIn-hOut)
		}
		if got := p.Loss(); math.Abs(got-want) > 1e-4*math.Max(1, want) {
			t.Fatalf("loss %v, want Σ_heads CE + 0.5·max(0, 3 + H̄in − H̄out) = %v", got, want)
		}
		checkProgramGrads(t, p.Program, rng, nil)
	})
	t.Run("input gradient T=1000", func(t *testing.T) {
		ig, err := m.InputGradProgram(4, 1000, HeadsMean)
		if err != nil {
			t.Fatal(err)
		}
		defer ig.Close()
		fillInputs(ig, rng, 5, []Tensor{ig.x}, ig.y)
		checkInputGrad(t, ig, func(analytic []float32) []int { return rng.Perm(len(analytic))[:30] }, numdiff.Fixed(1), 1e-6, 3e-2)
	})
}

// checkInputGrad runs an input-gradient program whose inputs are filled and
// checks the components of its input gradient that pick chooses against
// finite differences of its loss.
func checkInputGrad(t *testing.T, ig *Program, pick func(analytic []float32) []int, step func(float32) float32, atol, rtol float64) {
	t.Helper()
	if err := ig.Run(); err != nil {
		t.Fatal(err)
	}
	analytic := slices.Clone(ig.InputGrad())
	run := func() float64 {
		if err := ig.Run(); err != nil {
			t.Fatal(err)
		}
		return ig.Loss()
	}
	numdiff.Check(t, "∂L/∂x", run, ig.Input(), analytic, pick(analytic), step, atol, rtol)
}

// entropyAndSmoothedCE are the mean entropy of softmax(z) over a batch of
// logits z (N, K) and, when labels are given, the mean cross-entropy
// against labels smoothed by s, in float64.
func entropyAndSmoothedCE(z, labels []float32, k int, s float64) (h, ce float64) {
	n := len(z) / k
	p := make([]float64, k)
	for i := 0; i < n; i++ {
		Softmax(z[i*k:(i+1)*k], 1, p)
		for c, v := range p {
			h -= v * math.Log(v) / float64(n)
			if labels != nil {
				target := s / float64(k)
				if c == int(labels[i]) {
					target += 1 - s
				}
				ce -= target * math.Log(v) / float64(n)
			}
		}
	}
	return h, ce
}

// TestDetachStopsGradient checks Detach where MCD's Step A uses it: with
// loss CE(C1(G(x)), y1) + CE(C2(detach(G(x))), y2), changing head 2's labels
// y2 changes head 2's gradient but leaves the extractor's exactly as it was;
// without Detach it changes the extractor's too (so the test can fail).
func TestDetachStopsGradient(t *testing.T) {
	spec, _ := ParseSpec("small")
	m, err := New(spec, 4, 9)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	// moved returns, for head 2 and for the extractor, the largest change of
	// a gradient element when y2 changes.
	moved := func(detach bool) (head2, extractor float64) {
		g := m.NewGraph(Training)
		x, y1, y2 := g.Images(5), g.Labels(5), g.Labels(5)
		f := g.Features(x)
		f2 := f
		if detach {
			f2 = g.Detach(f)
		}
		p, err := g.Train(g.Sum(g.CrossEntropy(g.Head(1, f), y1), g.CrossEntropy(g.Head(2, f2), y2)))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		fillInputs(p, rng, 4, []Tensor{x}, y1)
		copy(p.Data(y2), p.Data(y1))
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		before := p.Grads()
		for i := range before {
			before[i] = append([]float32(nil), before[i]...)
		}
		for i := range p.Data(y2) {
			p.Data(y2)[i] = float32((int(p.Data(y1)[i]) + 1 + i%3) % 4)
		}
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		for i, par := range p.Params() {
			for j, v := range p.Grads()[i] {
				d := math.Abs(float64(v - before[i][j]))
				switch {
				case par.Name == "head2.w" || par.Name == "head2.b":
					head2 = math.Max(head2, d)
				case par.Name != "head1.w" && par.Name != "head1.b":
					extractor = math.Max(extractor, d)
				}
			}
		}
		return head2, extractor
	}
	head2, extractor := moved(true)
	if head2 == 0 || extractor != 0 {
		t.Errorf("detached: head 2's labels moved head 2's gradient by %g (want > 0) and the extractor's by %g (want 0)", head2, extractor)
	}
	if _, extractor := moved(false); extractor < 1e-4 {
		t.Errorf("without Detach, head 2's labels move the extractor's gradient by only %g: the test cannot tell", extractor)
	}
}

// A training step leaves out the input gradient of a convolution whose input
// depends on no trained parameter — the layer that reads the images — and
// keeps every other one; ODIN's input-gradient program keeps them all.
func TestTrainSkipsUnusedInputGradients(t *testing.T) {
	// count returns the program's convolutions and input-gradient ops, and
	// whether each skipped one reads the images (through their CNHW swap).
	count := func(p *Program) (convs, grads int, skippedReadImages bool) {
		skippedReadImages = true
		for _, n := range p.g.AllNodes() {
			switch op := n.Op().(type) {
			case *convOp:
				convs++
				if op.noInputGrad {
					_, swap := op.x.Op().(*transposeOp)
					skippedReadImages = skippedReadImages && swap
				}
			case *convGradInputOp:
				grads++
			}
		}
		return convs, grads, skippedReadImages
	}
	for _, name := range []string{"resnet9-16", "densenet-bc-16-4", "airbench-64-128-128"} {
		m := newModel(t, name)
		p, err := m.TrainProgram(2, 0)
		if err != nil {
			t.Fatal(err)
		}
		convs, grads, images := count(p)
		p.Close()
		// (airbench's image layer, its frozen whitening filters, has no
		// gradient at all.)
		if grads != convs-1 || !images {
			t.Errorf("%s: training: %d convolutions, %d input gradients (want %d, the image layer's left out; skipped ones read the images: %v)", name, convs, grads, convs-1, images)
		}
		p, err = m.InputGradProgram(2, 1, HeadsMean)
		if err != nil {
			t.Fatal(err)
		}
		convs, grads, _ = count(p)
		p.Close()
		if grads != convs {
			t.Errorf("%s: input gradient: %d convolutions, %d input gradients (want all)", name, convs, grads)
		}
	}
}
