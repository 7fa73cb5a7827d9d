package nets

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mcdood/mcdood/internal/numdiff"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The dense-block op's gradients against finite differences: two layers of
// growth 2 on a 3-channel input, in training mode (with respect to the input
// and every parameter) and in evaluation mode (the input, as ODIN
// differentiates). In training mode the activation is GELU: with ReLU, a
// change of one input or batch-norm scale moves every pre-activation of a
// channel, and a block this small has so many kinks that no step is both
// crossing none and resolved by float32 (the layer-by-layer graph of the
// checked ops fails the same way, with the same numbers). In evaluation
// mode a kink is one element's, and the ReLU block passes at a step of
// 1e-3. The ReLU block is the layer-by-layer graph to the bit
// (TestSharedDenseBlocksMatchLayered) and is checked whole in
// TestDenseNetGradients.
func TestDenseBlockGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	const c0, k, width, layers = 3, 2, 8, 2
	for _, c := range []struct {
		act      Act
		training bool
		h        float64
	}{{ActGELU, true, 1e-2}, {ActGELU, false, 1e-2}, {ActReLU, false, 1e-3}} {
		inputs := []*tensor.Dense{randTensor(rng, 1, c0, 4, 5, 5)}
		var sts []*bnState
		for l := range layers {
			c := c0 + l*k
			inputs = append(inputs,
				scales(rng, c), randTensor(rng, 0.5, c), randTensor(rng, 0.5, width, c, 1, 1),
				scales(rng, width), randTensor(rng, 0.5, width), randTensor(rng, 0.3, k, width, 3, 3))
			for _, n := range []int{c, width} {
				st := newBNState(n)
				for i := range st.Mean {
					st.Mean[i], st.Var[i] = float32(0.2*rng.NormFloat64()), float32(0.5+rng.Float64())
				}
				sts = append(sts, st)
			}
		}
		wrt := []int{0}
		if c.training {
			for i := 1; i < len(inputs); i++ {
				wrt = append(wrt, i)
			}
		}
		checkGrad(t, fmt.Sprintf("dense block %v training=%v", c.act, c.training), inputs, wrt,
			func(in []*G.Node) (*G.Node, error) { return DenseBlock(in[0], in[1:], sts, c.training, c.act, nil) }, nil, c.h, 2e-3, 2e-2)
	}
}

// scales is a batch-norm scale vector near 1: a scale near 0 would put a
// whole channel's pre-activations near the ReLU kink, where finite
// differences mean nothing.
func scales(rng *rand.Rand, c int) *tensor.Dense {
	t := randTensor(rng, 0.3, c)
	for i := range f32(t) {
		f32(t)[i] += 1
	}
	return t
}

// perturbModel moves a model's batch-norm statistics and one-dimensional
// parameters away from their initial values (ones and zeros), so that a
// comparison sees them.
func perturbModel(m *Model, rng *rand.Rand) {
	for _, name := range m.bnNames {
		st := m.bn[name]
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
}

// withLayeredDenseBlocks runs fn with dense blocks built layer by layer, the
// naive graph with a concatenation per layer.
func withLayeredDenseBlocks(fn func()) {
	old := sharedDenseBlocks
	sharedDenseBlocks = false
	defer func() { sharedDenseBlocks = old }()
	fn()
}

// DenseNet with shared dense-block storage computes what the layer-by-layer
// graph computes, to the bit: two SGD steps (loss, every gradient, the
// running statistics after), evaluation outputs with and without the
// batch-norm fusion, and the input gradient ODIN uses.
func TestSharedDenseBlocksMatchLayered(t *testing.T) {
	for _, c := range []struct {
		name  string
		batch int
	}{{"densenet-bc-22-6", 5}, {"densenet-bc-16-4", 3}} {
		t.Run(c.name, func(t *testing.T) { matchLayered(t, c.name, c.batch) })
	}
}

func matchLayered(t *testing.T, name string, batch int) {
	base := newModel(t, name)
	perturbModel(base, rand.New(rand.NewPCG(4, 4)))
	images := randSlice(rand.New(rand.NewPCG(8, 8)), batch*ImageSize)
	type result struct {
		losses []float64
		grads  [][]float32
		stats  [][]float32
		eval   [][]float32 // unfused z1, z2, features, then fused
		input  []float32
	}
	run := func() (r result) {
		m := base.Clone()
		p, err := m.TrainProgram(batch, 0.1)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		blocks := 0
		for _, n := range p.g.AllNodes() {
			if _, ok := n.Op().(*denseBlockOp); ok {
				blocks++
			}
		}
		if want := map[bool]int{true: 3, false: 0}[sharedDenseBlocks]; blocks != want {
			t.Fatalf("%d dense-block ops in the training graph, want %d", blocks, want)
		}
		copy(p.Input(), images)
		for i := range p.Labels() {
			p.Labels()[i] = float32(i % 10)
		}
		opt := NewSGD(0.9, 1e-4, false)
		for range 2 {
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
			r.losses = append(r.losses, p.Loss())
			for _, g := range p.Grads() {
				r.grads = append(r.grads, slices.Clone(g))
			}
			if err := opt.Step(0.05, p.Params(), p.Grads()); err != nil {
				t.Fatal(err)
			}
		}
		for _, name := range m.bnNames {
			r.stats = append(r.stats, slices.Clone(m.bn[name].Mean), slices.Clone(m.bn[name].Var))
		}
		for _, fuse := range []bool{false, true} {
			old := fuseEvalBN
			fuseEvalBN = fuse
			ep, err := m.EvalProgram(batch)
			fuseEvalBN = old
			if err != nil {
				t.Fatal(err)
			}
			copy(ep.Input(), images)
			for range 2 { // a second run must not apply anything twice
				if err := ep.Run(); err != nil {
					t.Fatal(err)
				}
			}
			z1, z2 := ep.Logits()
			r.eval = append(r.eval, slices.Clone(z1), slices.Clone(z2), slices.Clone(ep.Features()))
			ep.Close()
		}
		ig, err := m.InputGradProgram(batch, 1000, HeadsMean)
		if err != nil {
			t.Fatal(err)
		}
		defer ig.Close()
		copy(ig.Input(), images)
		for i := range ig.Labels() {
			ig.Labels()[i] = float32(i % 10)
		}
		if err := ig.Run(); err != nil {
			t.Fatal(err)
		}
		r.input = slices.Clone(ig.InputGrad())
		return r
	}
	shared := run()
	var layered result
	withLayeredDenseBlocks(func() { layered = run() })
	if !slices.Equal(shared.losses, layered.losses) {
		t.Errorf("losses %v, layer by layer %v", shared.losses, layered.losses)
	}
	same := func(what string, got, want [][]float32) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d tensors, layer by layer %d", what, len(got), len(want))
		}
		for i := range want {
			if !slices.Equal(got[i], want[i]) {
				closeSlices(t, fmt.Sprintf("%s %d", what, i), got[i], want[i], 1e-5)
				t.Errorf("%s %d: not bit-identical to the layer-by-layer graph", what, i)
			}
		}
	}
	same("gradient", shared.grads, layered.grads)
	same("running statistics", shared.stats, layered.stats)
	same("evaluation output", shared.eval, layered.eval)
	same("input gradient", [][]float32{shared.input}, [][]float32{layered.input})
}

// A small DenseNet end to end against finite differences: the training
// step's parameter gradients and the input gradient of an evaluation graph.
func TestDenseNetGradients(t *testing.T) {
	m := newModel(t, "densenet-bc-16-4")
	rng := rand.New(rand.NewPCG(6, 1))
	perturbModel(m, rng)
	t.Run("training", func(t *testing.T) {
		p, err := m.TrainProgram(4, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		fillInputs(p, rng, 10, []Tensor{p.x}, p.y)
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		grads := p.Grads()
		for i, par := range p.Params() {
			analytic := slices.Clone(grads[i])
			run := func() float64 {
				if err := p.Run(); err != nil {
					t.Fatal(err)
				}
				return p.Loss()
			}
			picks := rng.Perm(len(par.Data()))[:min(4, len(par.Data()))]
			numdiff.Check(t, par.Name, run, par.Data(), analytic, picks, numdiff.Fixed(1e-3), 3e-3, 3e-2)
		}
	})
	t.Run("input gradient", func(t *testing.T) {
		// Along directions in image space rather than pixel by pixel: a
		// pixel's own derivative here is about 1e-3, near the float32
		// resolution of the loss over a step that crosses no ReLU kink.
		// The gradient's own direction is the sharp test (its derivative
		// is |g|); three random ones catch gross errors (about 1e-3 each,
		// float32 noise about 5e-5 at this step).
		ig, err := m.InputGradProgram(3, 1, Head1)
		if err != nil {
			t.Fatal(err)
		}
		defer ig.Close()
		fillInputs(ig, rng, 10, []Tensor{ig.x}, ig.y)
		if err := ig.Run(); err != nil {
			t.Fatal(err)
		}
		g := slices.Clone(ig.InputGrad())
		x0 := slices.Clone(ig.Input())
		at := func(u []float32, h float64) float64 {
			for i := range x0 {
				ig.Input()[i] = x0[i] + float32(h)*u[i]
			}
			if err := ig.Run(); err != nil {
				t.Fatal(err)
			}
			return ig.Loss()
		}
		dirs := [][]float32{slices.Clone(g)}
		for range 3 {
			dirs = append(dirs, randSlice(rng, len(g)))
		}
		for d, u := range dirs {
			var norm, want float64
			for i := range u {
				norm += float64(u[i]) * float64(u[i])
			}
			for i := range u {
				u[i] /= float32(math.Sqrt(norm))
				want += float64(g[i]) * float64(u[i])
			}
			const h = 5e-3
			got := (at(u, h) - at(u, -h)) / (2 * h)
			if math.Abs(got-want) > 1e-4+2e-2*math.Abs(want) {
				t.Errorf("direction %d: analytic %.6g, finite difference %.6g", d, want, got)
			}
		}
		copy(ig.Input(), x0)
	})
}
