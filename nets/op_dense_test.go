package nets

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mcdood/mcdood/internal/numdiff"

	"github.com/chewxy/hm"
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
	// The 1×1 convolutions' tiles (pointwiseTile), many of them.
	t.Run("tiles of 64 to 192 columns", func(t *testing.T) {
		old := pointwiseBudget
		defer func() { pointwiseBudget = old }()
		pointwiseBudget = 2500
		matchLayered(t, "densenet-bc-22-6", 5)
	})
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

// sameBits reports every tensor of got that is not bit-identical to want.
func sameBits(t *testing.T, what string, got, want [][]float32) {
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

// denseOps counts a graph's dense-block ops, those of them a backward pass
// follows (grads) and their backward ops.
func denseOps(g *G.ExprGraph) (fwd, grads, bwd int) {
	for _, n := range g.AllNodes() {
		switch op := n.Op().(type) {
		case *denseBlockOp:
			fwd++
			if op.grads {
				grads++
			}
		case *denseBlockGradOp:
			bwd++
		}
	}
	return fwd, grads, bwd
}

// compStep is a compiled training step for the comparisons below, with its
// image and label inputs and the scalars (parts of its loss) to record.
type compStep struct {
	p      *Program
	images []Tensor
	labels []Tensor
	parts  []Tensor
}

// stepsResult is what runSteps records.
type stepsResult struct {
	losses  []float64   // each run's loss, then its parts
	grads   [][]float32 // each run's gradients
	stats   [][]float32 // the running statistics after the last step
	weights [][]float32 // the parameters after the last step
	ops     [3]int      // denseOps of the step's graph
}

// runSteps runs the step built by build on a clone of base steps times,
// each on new inputs drawn from a fixed seed, and after each run applies SGD
// to the parameters update picks (every differentiated one when nil).
func runSteps(t *testing.T, base *Model, build func(m *Model) (compStep, error), steps int, update func(*Param) bool) (r stepsResult) {
	t.Helper()
	m := base.Clone()
	s, err := build(m)
	if err != nil {
		t.Fatal(err)
	}
	defer s.p.Close()
	r.ops[0], r.ops[1], r.ops[2] = denseOps(s.p.g)
	rng := rand.New(rand.NewPCG(21, 12))
	opt := NewSGD(0.9, 1e-4, false)
	for range steps {
		fillInputs(s.p, rng, 10, s.images, s.labels...)
		if err := s.p.Run(); err != nil {
			t.Fatal(err)
		}
		r.losses = append(r.losses, s.p.Loss())
		for _, part := range s.parts {
			r.losses = append(r.losses, s.p.Scalar(part))
		}
		var params []*Param
		var grads [][]float32
		for i, g := range s.p.Grads() {
			r.grads = append(r.grads, slices.Clone(g))
			if update == nil || update(s.p.Params()[i]) {
				params, grads = append(params, s.p.Params()[i]), append(grads, g)
			}
		}
		if err := opt.Step(0.05, params, grads); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range m.bnNames {
		r.stats = append(r.stats, slices.Clone(m.bn[name].Mean), slices.Clone(m.bn[name].Var))
	}
	for _, p := range m.Params() {
		r.weights = append(r.weights, slices.Clone(p.Data()))
	}
	return r
}

// compareSteps runs build with shared dense blocks and layer by layer and
// requires the same floats; wantOps are the shared graph's denseOps.
func compareSteps(t *testing.T, base *Model, build func(m *Model) (compStep, error), update func(*Param) bool, wantOps [3]int) stepsResult {
	t.Helper()
	shared := runSteps(t, base, build, 2, update)
	if shared.ops != wantOps {
		t.Errorf("dense-block ops (forward, with a backward pass, backward) %v, want %v", shared.ops, wantOps)
	}
	var layered stepsResult
	withLayeredDenseBlocks(func() { layered = runSteps(t, base, build, 2, update) })
	if layered.ops != [3]int{} {
		t.Fatalf("layer-by-layer graph has dense-block ops %v", layered.ops)
	}
	if !slices.Equal(shared.losses, layered.losses) {
		t.Errorf("losses %v, layer by layer %v", shared.losses, layered.losses)
	}
	sameBits(t, "gradient", shared.grads, layered.grads)
	sameBits(t, "running statistics", shared.stats, layered.stats)
	sameBits(t, "weights after the steps", shared.weights, layered.weights)
	return shared
}

// stepB is MCD's Step B (mcd/steps.go) on labelled batch x and unlabelled
// batch u of different sizes, head 2 on detached features when detach is
// set (as Step A has it).
func stepB(detach bool) func(m *Model) (compStep, error) {
	return func(m *Model) (compStep, error) {
		g := m.NewGraph(Training)
		x, y, u := g.Images(4), g.Labels(4), g.Images(3)
		f := g.Features(x)
		f2 := f
		if detach {
			f2 = g.Detach(f)
		}
		ce1, ce2 := g.CrossEntropy(g.Head(1, f), y), g.CrossEntropy(g.Head(2, f2), y)
		fu := g.Features(u)
		margin := g.Hinge(1.2, g.Sub(g.MeanEntropy(g.Head(1, fu)), g.MeanEntropy(g.Head(2, fu))))
		p, err := g.Train(g.Sum(ce1, ce2, margin))
		return compStep{p, []Tensor{x, u}, []Tensor{y}, []Tensor{ce1, ce2, margin}}, err
	}
}

// Graphs that apply the feature extractor twice, whose dense-block ops
// share the builder's scratch: MCD's Step B (two batches, with and without
// head 2 detached, the entropy hinge on the second), the same batch through
// the extractor twice, and the leave-out classifier's entropy-margin step.
// Two SGD steps match the layer-by-layer graph to the bit: losses and their
// parts, every gradient, the running statistics (each batch norm updated
// twice per step) and the weights.
func TestSharedDenseBlocksTwoApplications(t *testing.T) {
	base := newModel(t, "densenet-bc-16-4")
	perturbModel(base, rand.New(rand.NewPCG(4, 5)))
	t.Run("step B", func(t *testing.T) {
		r := compareSteps(t, base, stepB(false), nil, [3]int{6, 6, 6})
		if r.losses[3] <= 0 || r.losses[7] <= 0 {
			t.Errorf("the entropy hinge is not active (%v, %v): the test does not see its gradient", r.losses[3], r.losses[7])
		}
	})
	t.Run("step B, head 2 detached", func(t *testing.T) { compareSteps(t, base, stepB(true), nil, [3]int{6, 6, 6}) })
	for _, threads := range []int{1, 3} {
		// The blocks' shared per-worker scratch and partial weight
		// gradients, with one worker and with more workers than cores.
		t.Run(fmt.Sprintf("step B, %d threads", threads), func(t *testing.T) {
			defer SetThreads(SetThreads(threads))
			compareSteps(t, base, stepB(false), nil, [3]int{6, 6, 6})
		})
	}
	t.Run("same batch twice", func(t *testing.T) {
		compareSteps(t, base, func(m *Model) (compStep, error) {
			g := m.NewGraph(Training)
			x, y := g.Images(3), g.Labels(3)
			ce1 := g.CrossEntropy(g.Head(1, g.Features(x)), y)
			ce2 := g.CrossEntropy(g.Head(2, g.Features(x)), y)
			p, err := g.Train(g.Sum(ce1, ce2))
			return compStep{p, []Tensor{x}, []Tensor{y}, []Tensor{ce1, ce2}}, err
		}, nil, [3]int{6, 6, 6})
	})
	t.Run("entropy margin", func(t *testing.T) {
		compareSteps(t, base, func(m *Model) (compStep, error) {
			s, err := m.EntropyMarginProgram(3, 2, 0.1, 0.5, 1)
			if err != nil {
				return compStep{}, err
			}
			return compStep{s.Program, []Tensor{s.x, s.Outliers}, []Tensor{s.y}, nil}, nil
		}, nil, [3]int{6, 6, 6})
	})
}

// Training part of the network: with the extractor's parameters Frozen
// (heads only: no dense block is differentiated), the dense blocks' own
// parameters Frozen (their gradients computed and not asked for), or
// everything before the third block Frozen (only its two applications get a
// backward pass); and MCD's train = "heads" (and Step B of "heads-in-b"),
// which differentiates everything and updates the heads only
// (mcd/finetune.go, trained). Step B's graph, two SGD steps, bit for bit
// against the layer-by-layer graph.
func TestSharedDenseBlocksFrozen(t *testing.T) {
	base := newModel(t, "densenet-bc-16-4")
	perturbModel(base, rand.New(rand.NewPCG(4, 6)))
	for _, c := range []struct {
		name   string
		freeze func(p *Param) bool
		ops    [3]int
	}{
		{"extractor frozen", func(p *Param) bool { return !p.InHead() }, [3]int{6, 0, 0}},
		{"dense blocks frozen", func(p *Param) bool { return strings.HasPrefix(p.Name, "block") }, [3]int{6, 6, 6}},
		{"all before block 3 frozen", func(p *Param) bool {
			return !p.InHead() && !strings.HasPrefix(p.Name, "block3.") && !strings.HasPrefix(p.Name, "bn.") // the final batch norm
		}, [3]int{6, 2, 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := base.Clone()
			frozen := 0
			for _, p := range m.Params() {
				if c.freeze(p) {
					p.Role = Frozen
					frozen++
				}
			}
			if frozen == 0 {
				t.Fatal("nothing frozen")
			}
			r := compareSteps(t, m, stepB(false), nil, c.ops)
			for i, p := range m.Params() {
				if p.Role == Frozen && !slices.Equal(r.weights[i], p.Data()) {
					t.Errorf("frozen parameter %s changed", p.Name)
				}
			}
		})
	}
	t.Run("heads updated only", func(t *testing.T) {
		r := compareSteps(t, base, stepB(false), (*Param).InHead, [3]int{6, 6, 6})
		for i, p := range base.Params() {
			if !p.InHead() && !slices.Equal(r.weights[i], p.Data()) {
				t.Errorf("extractor parameter %s changed", p.Name)
			}
		}
	})
}

// Evaluation graphs against the layer-by-layer graph, bit for bit:
//   - two batches through the extractor in one graph (two applications of
//     each block sharing scratch), fused and unfused;
//   - input gradients through two applications: the same batch to both
//     heads through the extractor twice, and a loss of the batch x and a
//     second batch u of which only x is differentiated (u's blocks keep no
//     bottleneck outputs and share scratch with x's, which do);
//   - ODIN's loop (baselines/odin.go): an input-gradient program and a
//     fused evaluation program compiled once, run in turn on a perturbed
//     input, before and after a training step changes the weights and the
//     running statistics the compiled programs read.
func TestSharedDenseBlocksEvalGraphs(t *testing.T) {
	base := newModel(t, "densenet-bc-16-4")
	perturbModel(base, rand.New(rand.NewPCG(4, 7)))
	const batch = 3
	type result struct {
		out [][]float32
		ops [][3]int
	}
	run := func() (r result) {
		m := base.Clone()
		rng := rand.New(rand.NewPCG(2, 3))
		fill := func(p *Program, images []Tensor, labels ...Tensor) {
			fillInputs(p, rng, 10, images, labels...)
			r.ops = append(r.ops, func() [3]int { a, b, c := denseOps(p.g); return [3]int{a, b, c} }())
		}
		for _, fuse := range []bool{false, true} {
			old := fuseEvalBN
			fuseEvalBN = fuse
			g := m.NewGraph(Evaluation)
			x, u := g.Images(batch), g.Images(batch+1)
			f, fu := g.Features(x), g.Features(u)
			outs := []Tensor{g.Head(1, f), g.Head(2, fu), f, fu}
			p, err := g.Eval()
			fuseEvalBN = old
			if err != nil {
				t.Fatal(err)
			}
			fill(p, []Tensor{x, u})
			for range 2 {
				if err := p.Run(); err != nil {
					t.Fatal(err)
				}
			}
			for _, o := range outs {
				r.out = append(r.out, slices.Clone(p.Data(o)))
			}
			p.Close()
		}
		{
			g := m.NewGraph(Evaluation)
			x, y := g.Images(batch), g.Labels(batch)
			p, err := g.InputGrad(g.NLL(y, 10, g.Head(1, g.Features(x)), g.Head(2, g.Features(x))), x)
			if err != nil {
				t.Fatal(err)
			}
			fill(p, []Tensor{x}, y)
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
			r.out = append(r.out, slices.Clone(p.InputGrad()), []float32{float32(p.Loss())})
			p.Close()
		}
		{
			g := m.NewGraph(Evaluation)
			x, u, y := g.Images(batch), g.Images(batch), g.Labels(batch)
			p, err := g.InputGrad(g.NLL(y, 1, g.Head(1, g.Features(x)), g.Head(2, g.Features(u))), x)
			if err != nil {
				t.Fatal(err)
			}
			fill(p, []Tensor{x, u}, y)
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
			r.out = append(r.out, slices.Clone(p.InputGrad()), []float32{float32(p.Loss())})
			p.Close()
		}
		eval, err := m.EvalProgram(batch)
		if err != nil {
			t.Fatal(err)
		}
		defer eval.Close()
		grad, err := m.InputGradProgram(batch, 1000, HeadsMean)
		if err != nil {
			t.Fatal(err)
		}
		defer grad.Close()
		r.ops = append(r.ops, func() [3]int { a, b, c := denseOps(eval.g); return [3]int{a, b, c} }())
		clean := randSlice(rng, batch*ImageSize)
		odin := func() {
			for range 2 {
				copy(grad.Input(), clean)
				for i := range grad.Labels() {
					grad.Labels()[i] = float32(i % 10)
				}
				if err := grad.Run(); err != nil {
					t.Fatal(err)
				}
				for i, g := range grad.InputGrad() {
					eval.Input()[i] = clean[i] - 0.01*float32(math.Copysign(1, float64(g)))
				}
				if err := eval.Run(); err != nil {
					t.Fatal(err)
				}
				z1, z2 := eval.Logits()
				r.out = append(r.out, slices.Clone(grad.InputGrad()), slices.Clone(z1), slices.Clone(z2))
				clean = slices.Clone(eval.Input())
			}
		}
		odin()
		train, err := m.TrainProgram(batch, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer train.Close()
		fillInputs(train, rng, 10, []Tensor{train.x}, train.y)
		if err := train.Run(); err != nil {
			t.Fatal(err)
		}
		if err := NewSGD(0.9, 0, false).Step(0.1, train.Params(), train.Grads()); err != nil {
			t.Fatal(err)
		}
		odin()
		return r
	}
	shared := run()
	var layered result
	withLayeredDenseBlocks(func() { layered = run() })
	// unfused, fused, two input-gradient graphs (the second differentiating
	// x's blocks only), ODIN's fused evaluation program.
	if want := [][3]int{{6, 0, 0}, {6, 0, 0}, {6, 6, 6}, {6, 3, 3}, {3, 0, 0}}; !slices.Equal(shared.ops, want) {
		t.Errorf("dense-block ops (forward, with a backward pass, backward) %v, want %v", shared.ops, want)
	}
	sameBits(t, "output", shared.out, layered.out)
}

// paramList is a model's parameters (name, shape, role, values) and its
// batch-norm layers in creation order.
func paramList(m *Model) (names []string, values [][]float32) {
	for _, p := range m.Params() {
		names = append(names, fmt.Sprintf("%s %v %d", p.Name, p.Value.Shape(), p.Role))
		values = append(values, slices.Clone(p.Data()))
	}
	for _, name := range m.bnNames {
		names = append(names, fmt.Sprintf("bn %s %d", name, len(m.bn[name].Mean)))
		values = append(values, slices.Clone(m.bn[name].Mean), slices.Clone(m.bn[name].Var))
	}
	return names, values
}

// Checkpoints do not see the change: a new model has the same parameters
// (names, shapes, roles, creation order, initial values) and batch-norm
// layers either way, and a checkpoint written by a model of the
// layer-by-layer graph after a training step loads into the shared-block
// graph with the same evaluation outputs, input gradient and next training
// step (with the saved optimiser) as the layer-by-layer model continuing.
func TestSharedDenseBlocksCheckpoint(t *testing.T) {
	for _, name := range []string{"densenet-bc-16-4", "densenet-bc-22-6"} {
		t.Run(name, func(t *testing.T) {
			sharedNames, sharedInit := paramList(newModel(t, name))
			var layeredNames []string
			var layeredInit [][]float32
			withLayeredDenseBlocks(func() { layeredNames, layeredInit = paramList(newModel(t, name)) })
			if !slices.Equal(sharedNames, layeredNames) {
				t.Fatalf("parameters\n%v\nlayer by layer\n%v", sharedNames, layeredNames)
			}
			sameBits(t, "initial value", sharedInit, layeredInit)
			testCheckpointAcrossGraphs(t, name)
		})
	}
}

func testCheckpointAcrossGraphs(t *testing.T, name string) {
	const batch = 3
	path := filepath.Join(t.TempDir(), "model.ckpt")
	images := randSlice(rand.New(rand.NewPCG(9, 9)), batch*ImageSize)
	// outputs runs, on m: evaluation, the input gradient, then one training
	// step with opt, and returns their outputs and the weights after it.
	outputs := func(m *Model, opt *SGD) (out [][]float32) {
		ep, err := m.EvalProgram(batch)
		if err != nil {
			t.Fatal(err)
		}
		defer ep.Close()
		copy(ep.Input(), images)
		if err := ep.Run(); err != nil {
			t.Fatal(err)
		}
		z1, z2 := ep.Logits()
		out = append(out, slices.Clone(z1), slices.Clone(z2), slices.Clone(ep.Features()))
		ig, err := m.InputGradProgram(batch, 1000, Head1)
		if err != nil {
			t.Fatal(err)
		}
		defer ig.Close()
		copy(ig.Input(), images)
		if err := ig.Run(); err != nil {
			t.Fatal(err)
		}
		out = append(out, slices.Clone(ig.InputGrad()))
		tp, err := m.TrainProgram(batch, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer tp.Close()
		copy(tp.Input(), images)
		for i := range tp.Labels() {
			tp.Labels()[i] = float32(i % 10)
		}
		if err := tp.Run(); err != nil {
			t.Fatal(err)
		}
		out = append(out, tp.Grads()...)
		if err := opt.Step(0.05, tp.Params(), tp.Grads()); err != nil {
			t.Fatal(err)
		}
		_, values := paramList(m)
		return append(out, values...)
	}
	var want [][]float32
	var savedNames []string
	withLayeredDenseBlocks(func() {
		m := newModel(t, name)
		perturbModel(m, rand.New(rand.NewPCG(4, 8)))
		opt := NewSGD(0.9, 1e-4, false)
		outputs(m, opt) // a training step, so that the checkpoint has velocities
		if err := SaveCheckpoint(path, m, State{Epoch: 1, SGD: opt}); err != nil {
			t.Fatal(err)
		}
		savedNames, _ = paramList(m)
		want = outputs(m, opt)
	})
	m, st, err := LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if names, _ := paramList(m); !slices.Equal(names, savedNames) {
		t.Fatalf("loaded parameters\n%v\nsaved\n%v", names, savedNames)
	}
	if st.SGD == nil {
		t.Fatal("no optimiser state")
	}
	sameBits(t, "after loading", outputs(m, st.SGD), want)
}

// identityOp copies its input; its gradient is a copy of the output's.
type identityOp struct {
	opBase
	shape tensor.Shape
	out   buffer
}

func (op *identityOp) Arity() int    { return 1 }
func (op *identityOp) Type() hm.Type { return fnType(tt(op.shape.Dims()), tt(op.shape.Dims())) }
func (op *identityOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}
func (op *identityOp) Do(vs ...G.Value) (G.Value, error) {
	out := op.out.get(op.shape...)
	copy(f32(out), f32(vs[0]))
	return out, nil
}
func (op *identityOp) DiffWRT(int) []bool { return []bool{true} }
func (op *identityOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&stopGradOp{opBase: newOpBase("∂ %v", op), shape: op.shape}, grad)
	return G.Nodes{d}, err
}

// layeredBlock is DenseBlock built from the layer ops, as the builder's
// layer-by-layer form does (convolutions of training graphs with a column
// cache). Its input goes through an identity first: the layer-by-layer
// block's input has two consumers (the first batch norm and the first
// concatenation), and where the block's input has others (here: another
// application) gorgonia would add up all of their gradients in its own
// order, where DenseBlock adds its two before they meet the others. With
// the identity, the sums are the same floats.
func layeredBlock(x *G.Node, params G.Nodes, sts []*bnState, training bool) (*G.Node, error) {
	var cache *colCache
	if training {
		cache = &colCache{left: ColumnCacheFloats}
	}
	relu := BNOptions{Act: ActReLU}
	x, err := G.ApplyOp(&identityOp{opBase: newOpBase("identity"), shape: x.Shape().Clone()}, x)
	if err != nil {
		return nil, err
	}
	for l := range len(params) / denseParams {
		p := params[l*denseParams:]
		y, err := BatchNorm(x, p[0], p[1], sts[2*l], training, relu)
		if err == nil {
			y, err = conv2D(y, p[2], 1, 0, cache)
		}
		if err == nil {
			y, err = BatchNorm(y, p[3], p[4], sts[2*l+1], training, relu)
		}
		if err == nil {
			y, err = conv2D(y, p[5], 1, 1, cache)
		}
		if err == nil {
			x, err = ConcatChannels(x, y)
		}
		if err != nil {
			return nil, err
		}
	}
	return x, nil
}

// blockGraph is a graph of dense blocks on a stem convolution, for the
// op-level comparisons below: its inputs (images, stem weights, block
// parameters), the block applications' running statistics and its losses.
type blockGraph struct {
	g      *G.ExprGraph
	inputs G.Nodes
	sts    []*bnState
	losses G.Nodes
}

// newBlockGraph builds, on a stem convolution of an input (3, N, 6, 6),
// apps applications of one dense block of two layers (growth 2, bottleneck
// 8), each of them under a loss of its own, Σ y·r for a random r. The
// applications read the stem's output, so its gradient is the stock Add
// of the blocks' input gradients; all of them update the same running
// statistics, as the applications of a model's extractor do.
func newBlockGraph(t *testing.T, shared, training bool, apps int) *blockGraph {
	rng := rand.New(rand.NewPCG(13, 31))
	const cin, c0, k, width, layers, n = 3, 4, 2, 8, 2, 3
	bg := &blockGraph{g: G.NewGraph()}
	values := []*tensor.Dense{randTensor(rng, 1, cin, n, 6, 6), randTensor(rng, 0.5, c0, cin, 3, 3)}
	for l := range layers {
		c := c0 + l*k
		values = append(values,
			scales(rng, c), randTensor(rng, 0.5, c), randTensor(rng, 0.5, width, c, 1, 1),
			scales(rng, width), randTensor(rng, 0.5, width), randTensor(rng, 0.3, k, width, 3, 3))
		for _, ch := range []int{c, width} {
			st := newBNState(ch)
			for i := range st.Mean {
				st.Mean[i], st.Var[i] = float32(0.2*rng.NormFloat64()), float32(0.5+rng.Float64())
			}
			bg.sts = append(bg.sts, st)
		}
	}
	for i, v := range values {
		bg.inputs = append(bg.inputs, G.NewTensor(bg.g, tensor.Float32, v.Shape().Dims(), G.WithShape(v.Shape()...), G.WithValue(v), G.WithName(fmt.Sprintf("in%d", i))))
	}
	var cache *colCache
	if training {
		cache = &colCache{left: ColumnCacheFloats}
	}
	x, err := conv2D(bg.inputs[0], bg.inputs[1], 1, 1, cache)
	if err != nil {
		t.Fatal(err)
	}
	sh := &denseScratch{}
	for range apps {
		var y *G.Node
		if shared {
			y, err = DenseBlock(x, bg.inputs[2:], bg.sts, training, ActReLU, sh)
		} else {
			y, err = layeredBlock(x, bg.inputs[2:], bg.sts, training)
		}
		if err != nil {
			t.Fatal(err)
		}
		r := make([]float32, y.Shape().TotalSize())
		for i := range r {
			r[i] = float32(rng.NormFloat64())
		}
		loss, err := G.ApplyOp(&dotOp{opBase: newOpBase("dot"), dims: 4, r: r}, y)
		if err != nil {
			t.Fatal(err)
		}
		bg.losses = append(bg.losses, loss)
	}
	return bg
}

// blockRuns runs a compiled block graph twice (the second time on changed
// images and weights, as after an SGD step) and returns the values of outs
// after each run and the running statistics after both.
func (bg *blockGraph) runs(t *testing.T, outs G.Nodes) (r [][]float32) {
	m := G.NewTapeMachine(bg.g)
	defer m.Close()
	for run := range 2 {
		if run == 1 {
			for _, in := range bg.inputs {
				for i := range f32(in.Value()) {
					f32(in.Value())[i] *= 1.01
				}
			}
		}
		m.Reset()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		for _, n := range outs {
			r = append(r, slices.Clone(f32(n.Value())))
		}
	}
	for _, st := range bg.sts {
		r = append(r, slices.Clone(st.Mean), slices.Clone(st.Var))
	}
	return r
}

// The input gradient of a dense block is a view of its backward op's
// scratch; when the block's input is used twice, gorgonia's stock Add sums
// that view with the other gradient, in place when the view's register is
// dead. Two applications of one block to a stem convolution's output, in
// training mode (gradients of the images, the stem and every block
// parameter) and in evaluation mode (the images, as ODIN): the same floats
// as the layer ops, over two runs; and the Add is there.
func TestDenseBlockInputGradientSummed(t *testing.T) {
	for _, training := range []bool{true, false} {
		t.Run(fmt.Sprintf("training=%v", training), func(t *testing.T) {
			run := func(shared bool) [][]float32 {
				bg := newBlockGraph(t, shared, training, 2)
				loss, err := SumScalars(bg.losses...)
				if err != nil {
					t.Fatal(err)
				}
				wrt := bg.inputs[:1]
				if training {
					wrt = bg.inputs
				}
				grads, err := G.Grad(loss, wrt...)
				if err != nil {
					t.Fatal(err)
				}
				if f, g, b := denseOps(bg.g); shared && (f != 2 || g != 2 || b != 2) {
					t.Fatalf("dense-block ops %d, %d, %d", f, g, b)
				}
				r := bg.runs(t, append(G.Nodes{loss}, grads...))
				// The stem's output gradient is the stock Add; in the shared
				// graph it writes into one of the blocks' input-gradient views.
				var adds, views []*G.Node
				for _, n := range bg.g.AllNodes() {
					switch {
					case n.Op() == nil:
					case strings.HasPrefix(n.Op().String(), "+"):
						adds = append(adds, n)
					case func() bool { _, ok := n.Op().(*denseBlockGradOp); return ok }():
						views = append(views, n)
					}
				}
				if len(adds) == 0 {
					t.Fatal("no stock Add in the graph")
				}
				inPlace := false
				for _, a := range adds {
					for _, v := range views {
						if &f32(a.Value())[0] == &f32(v.Value())[0] {
							inPlace = true
						}
					}
				}
				if shared && !inPlace {
					t.Error("no Add wrote into a dense block's input-gradient view: the test does not see the aliasing")
				}
				return r
			}
			sameBits(t, "value", run(true), run(false))
		})
	}
}

// A dense block's SymDiff sets grads on its forward op and gives it one
// backward op, whose parameter-gradient buffers live in the forward op's
// layers; two backward ops of one forward op would share them. Gorgonia
// never makes a second: a second G.Grad through a node reuses the
// derivative the first made (node.deriv, Backpropagate), for every op (so
// its result is the first loss's gradient, layer ops as well: gorgonia's
// limitation, and no caller does it). Pinned here, with the same floats as
// the layer ops.
func TestDenseBlockTwoGradients(t *testing.T) {
	run := func(shared bool) [][]float32 {
		bg := newBlockGraph(t, shared, true, 1)
		loss2, err := ScaleScalar(-2, bg.losses[0])
		if err != nil {
			t.Fatal(err)
		}
		g1, err := G.Grad(bg.losses[0], bg.inputs...)
		if err != nil {
			t.Fatal(err)
		}
		g2, err := G.Grad(loss2, bg.inputs...)
		if err != nil {
			t.Fatal(err)
		}
		if _, grads, bwd := denseOps(bg.g); shared && (grads != 1 || bwd != 1) {
			t.Fatalf("%d backward ops of one dense block", bwd)
		}
		return bg.runs(t, append(g1, g2...))
	}
	sameBits(t, "value", run(true), run(false))
}

// Programs of one model share its parameters and running statistics and
// nothing else (each graph has its own dense-block scratch), so evaluation
// and input-gradient programs of one model may run at the same time; no
// caller does that today (Predict and the detectors run one program at a
// time), and this pins it: two fused evaluation programs and an
// input-gradient program run concurrently give the layer-by-layer graph's
// floats run one after another. Then a Clone (model.go) trained for a step
// leaves the original, and a program compiled on it, untouched.
func TestSharedDenseBlocksConcurrentAndClone(t *testing.T) {
	base := newModel(t, "densenet-bc-16-4")
	perturbModel(base, rand.New(rand.NewPCG(4, 9)))
	const batch, rounds = 2, 3
	inputs := make([][]float32, 3*rounds)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range inputs {
		inputs[i] = randSlice(rng, batch*ImageSize)
	}
	run := func(concurrent bool) (out [][]float32) {
		m := base.Clone()
		var progs []*Program
		for i := range 3 {
			var p *Program
			var err error
			if i < 2 {
				p, err = m.EvalProgram(batch)
			} else {
				p, err = m.InputGradProgram(batch, 1000, HeadsMean)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			progs = append(progs, p)
		}
		results := make([][][]float32, len(progs))
		errs := make([]error, len(progs))
		work := func(i int) {
			p := progs[i]
			for r := range rounds {
				copy(p.Input(), inputs[r*3+i])
				if i == 2 {
					for j := range p.Labels() {
						p.Labels()[j] = float32(j)
					}
				}
				if errs[i] = p.Run(); errs[i] != nil {
					return
				}
				z1, z2 := p.Logits()
				results[i] = append(results[i], slices.Clone(z1), slices.Clone(z2))
				if i == 2 {
					results[i] = append(results[i], slices.Clone(p.InputGrad()))
				}
			}
		}
		if concurrent {
			var wg sync.WaitGroup
			for i := range progs {
				wg.Add(1)
				go func() { defer wg.Done(); work(i) }()
			}
			wg.Wait()
		} else {
			for i := range progs {
				work(i)
			}
		}
		for i, err := range errs {
			if err != nil {
				t.Fatalf("program %d: %v", i, err)
			}
			out = append(out, results[i]...)
		}

		// A clone trained for a step: the original's compiled program still
		// gives what it gave.
		c := m.Clone()
		tp, err := c.TrainProgram(batch, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer tp.Close()
		copy(tp.Input(), inputs[0])
		if err := tp.Run(); err != nil {
			t.Fatal(err)
		}
		if err := NewSGD(0.9, 0, false).Step(0.1, tp.Params(), tp.Grads()); err != nil {
			t.Fatal(err)
		}
		copy(progs[0].Input(), inputs[3*(rounds-1)])
		if err := progs[0].Run(); err != nil {
			t.Fatal(err)
		}
		z1, _ := progs[0].Logits()
		if !slices.Equal(z1, results[0][2*(rounds-1)]) {
			t.Error("training a clone changed the original's outputs")
		}
		ep, err := c.EvalProgram(batch)
		if err != nil {
			t.Fatal(err)
		}
		defer ep.Close()
		copy(ep.Input(), inputs[1])
		if err := ep.Run(); err != nil {
			t.Fatal(err)
		}
		z1, z2 := ep.Logits()
		return append(out, slices.Clone(z1), slices.Clone(z2))
	}
	shared := run(true)
	var layered [][]float32
	withLayeredDenseBlocks(func() { layered = run(false) })
	sameBits(t, "output", shared, layered)
}

// InputGrad on a graph that Eval has compiled (its batch norms, and each
// dense block's second ones, fused into the convolutions before them, so
// that no forward pass leaves the statistics a backward op reads) is an
// error; it used to be a panic in a kernel worker, which no recover
// catches, with dense blocks (bnOp.reapply) as layer by layer (bnGradOp).
// No floats to compare: both graphs refuse.
func TestDenseInputGradAfterEvalRefused(t *testing.T) {
	for _, shared := range []bool{true, false} {
		old := sharedDenseBlocks
		sharedDenseBlocks = shared
		m := newModel(t, "densenet-bc-16-4")
		g := m.NewGraph(Evaluation)
		x, y := g.Images(2), g.Labels(2)
		loss := g.NLL(y, 1, g.Head(1, g.Features(x)))
		ep, err := g.Eval()
		sharedDenseBlocks = old
		if err != nil {
			t.Fatal(err)
		}
		ep.Close()
		if ip, err := g.InputGrad(loss, x); err == nil {
			ip.Close()
			t.Errorf("shared blocks %v: InputGrad on a fused graph compiled", shared)
		}
	}
}

// TestDenseNetBC100GradientsAcrossPaths computes a training step's
// gradients of the full DenseNet-BC-100 (batch 16) on every kernel level,
// on the default convolutions, with the packed GEMM's kernels (packedGEMM)
// and without,
// against the generic level on im2col + GEMM. The small networks of the
// other tests miss shapes the full one has (1×1 convolutions of up to 342
// channels, 12-output 3×3 ones on 32×32, 16×16 and 8×8 images); through a
// hundred layers every path's gradients drift a few percent of a tensor's
// largest element from the reference's (ReLU and batch-norm boundaries;
// measured 2.4–3.9% on both paths, with or without the packed kernels), so
// the bound catches a wrong kernel, not rounding.
func TestDenseNetBC100GradientsAcrossPaths(t *testing.T) {
	if testing.Short() || packedGEMM == nil {
		t.Skip("the full network (seconds), for the packed GEMM of the cgo build")
	}
	defer SetKernels(Kernels())
	defer SetConv(convChoice)
	saved := packedGEMM
	defer func() { packedGEMM = saved }()
	grads := func(level, conv string) [][]float32 {
		if err := SetKernels(level); err != nil {
			t.Fatal(err)
		}
		if err := SetConv(conv); err != nil {
			t.Fatal(err)
		}
		p, err := newModel(t, "densenet-bc-100").TrainProgram(16, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		copy(p.Input(), randSlice(rand.New(rand.NewPCG(1, 2)), len(p.Input())))
		for i := range p.Labels() {
			p.Labels()[i] = float32(i % 10)
		}
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		var out [][]float32
		for _, g := range p.Grads() {
			out = append(out, slices.Clone(g))
		}
		return out
	}
	packedGEMM = nil
	ref := grads("generic", "gemm")
	for _, level := range KernelLevels() {
		for _, packed := range []bool{false, true} {
			packedGEMM = nil
			if packed {
				packedGEMM = saved
			}
			got, worst := grads(level, "auto"), 0.0
			for i := range ref {
				var scale, diff float64
				for j := range ref[i] {
					scale = math.Max(scale, math.Abs(float64(ref[i][j])))
					diff = math.Max(diff, math.Abs(float64(got[i][j]-ref[i][j])))
				}
				if diff > 0.1*scale {
					t.Errorf("%s, packed %v: gradient %d of %d differs by %g, its largest element %g", level, packed, i, len(ref), diff, scale)
				}
				if scale > 0 {
					worst = math.Max(worst, diff/scale)
				}
			}
			t.Logf("%s, packed kernels %v: worst difference %.2g of a gradient's largest element", level, packed, worst)
		}
	}
}
