package nets

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mcdood/mcdood/internal/numdiff"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// dotOp reduces a tensor to Σ y·r for a fixed random r, so that any op's
// output can be checked through a scalar loss.
type dotOp struct {
	opBase
	dims int
	r    []float32
	out  G.F32
}

func (op *dotOp) Arity() int    { return 1 }
func (op *dotOp) Type() hm.Type { return fnType(tt(op.dims), scalarType) }
func (op *dotOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}
func (op *dotOp) Do(vs ...G.Value) (G.Value, error) {
	var s float64
	for i, v := range f32(vs[0]) {
		s += float64(v) * float64(op.r[i])
	}
	op.out = G.F32(s)
	return &op.out, nil
}
func (op *dotOp) DiffWRT(int) []bool { return []bool{true} }
func (op *dotOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&dotGradOp{opBase: newOpBase("∂dot"), fwd: op, shape: in[0].Shape().Clone()}, grad)
	return G.Nodes{d}, err
}

type dotGradOp struct {
	opBase
	fwd   *dotOp
	shape tensor.Shape
	out   buffer
}

func (op *dotGradOp) Arity() int    { return 1 }
func (op *dotGradOp) Type() hm.Type { return fnType(scalarType, tt(op.shape.Dims())) }
func (op *dotGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}
func (op *dotGradOp) Do(vs ...G.Value) (G.Value, error) {
	g := scalarOf(vs[0])
	out := op.out.get(op.shape...)
	for i, r := range op.fwd.r {
		f32(out)[i] = g * r
	}
	return out, nil
}
func (op *dotGradOp) DiffWRT(int) []bool                                 { return []bool{false} }
func (op *dotGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) { return nil, nil }

func randTensor(rng *rand.Rand, scale float64, shape ...int) *tensor.Dense {
	t := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape...))
	for i := range f32(t) {
		f32(t)[i] = float32(rng.NormFloat64() * scale)
	}
	return t
}

// checkGrad builds out = build(inputs) in a fresh graph, reduces a non-scalar
// output with a random dot product, and compares the symbolic gradient with
// respect to each input in wrt against central finite differences on up to
// 40 random elements. before runs before every forward run (to reseed
// dropout). The step is h·max(1, |x|); tolerance: |analytic − numeric| ≤
// atol + rtol·|numeric|.
func checkGrad(t *testing.T, name string, inputs []*tensor.Dense, wrt []int, build func(in []*G.Node) (*G.Node, error), before func(), h, atol, rtol float64) {
	t.Helper()
	t.Run(name, func(t *testing.T) { checkGradRun(t, name, inputs, wrt, build, before, h, atol, rtol) })
}

func checkGradRun(t *testing.T, name string, inputs []*tensor.Dense, wrt []int, build func(in []*G.Node) (*G.Node, error), before func(), h, atol, rtol float64) {
	rng := rand.New(rand.NewPCG(7, 11))
	g := G.NewGraph()
	nodes := make([]*G.Node, len(inputs))
	for i, v := range inputs {
		nodes[i] = G.NewTensor(g, tensor.Float32, v.Shape().Dims(), G.WithShape(v.Shape()...), G.WithValue(v), G.WithName(fmt.Sprintf("in%d", i)))
	}
	out, err := build(nodes)
	if err != nil {
		t.Fatalf("%s: build: %v", name, err)
	}
	loss := out
	if !out.IsScalar() {
		r := make([]float32, out.Shape().TotalSize())
		for i := range r {
			r[i] = float32(rng.NormFloat64())
		}
		if loss, err = G.ApplyOp(&dotOp{opBase: newOpBase("dot"), dims: out.Shape().Dims(), r: r}, out); err != nil {
			t.Fatal(err)
		}
	}
	var wrtNodes G.Nodes
	for _, i := range wrt {
		wrtNodes = append(wrtNodes, nodes[i])
	}
	grads, err := G.Grad(loss, wrtNodes...)
	if err != nil {
		t.Fatalf("%s: grad: %v", name, err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	run := func() float64 {
		if before != nil {
			before()
		}
		m.Reset()
		if err := m.RunAll(); err != nil {
			t.Fatalf("%s: run: %v", name, err)
		}
		return float64(scalarOf(loss.Value()))
	}
	run()
	analytic := make([][]float32, len(grads))
	for k, gn := range grads {
		analytic[k] = append([]float32(nil), f32(gn.Value())...)
	}
	for k, i := range wrt {
		data := f32(inputs[i])
		if len(analytic[k]) != len(data) {
			t.Fatalf("%s: gradient of input %d has %d elements, want %d", name, i, len(analytic[k]), len(data))
		}
		picks := rng.Perm(len(data))
		if len(picks) > 40 {
			picks = picks[:40]
		}
		numdiff.Check(t, fmt.Sprintf("%s: ∂L/∂in%d", name, i), run, data, analytic[k], picks, numdiff.Relative(h), atol, rtol)
	}
}

func TestGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const atol, rtol = 2e-3, 2e-2
	for _, c := range []struct{ k, s, p int }{{3, 1, 1}, {3, 2, 1}, {1, 1, 0}, {1, 2, 0}, {5, 1, 2}} {
		checkGrad(t, fmt.Sprintf("conv k%d s%d p%d", c.k, c.s, c.p),
			[]*tensor.Dense{randTensor(rng, 1, 3, 4, 7, 7), randTensor(rng, 0.3, 5, 3, c.k, c.k)}, []int{0, 1},
			func(in []*G.Node) (*G.Node, error) { return Conv2D(in[0], in[1], c.s, c.p) }, nil, 1e-2, atol, rtol)
	}
	checkGrad(t, "conv k3 s2 p1 keeping columns",
		[]*tensor.Dense{randTensor(rng, 1, 3, 4, 7, 7), randTensor(rng, 0.3, 5, 3, 3, 3)}, []int{0, 1},
		func(in []*G.Node) (*G.Node, error) { return conv2D(in[0], in[1], 2, 1, &colCache{left: 1 << 20}) }, nil, 1e-2, atol, rtol)
	for _, o := range []BNOptions{{}, {Act: ActReLU}, {Act: ActGELU}, {Act: ActGELU, FixedScale: true}, {Act: ActGELU, ShiftOnly: true}} {
		for _, training := range []bool{true, false} {
			st := newBNState(3)
			for i := range st.Mean {
				st.Mean[i], st.Var[i] = 0.2*float32(i), 0.5+float32(i)
			}
			wrt := []int{0, 1, 2}
			switch {
			case !training:
				wrt = []int{0}
			case o.FixedScale:
				wrt = []int{0, 2}
			}
			checkGrad(t, fmt.Sprintf("bn %+v training=%v", o, training),
				[]*tensor.Dense{randTensor(rng, 1, 3, 4, 3, 3), randTensor(rng, 1, 3), randTensor(rng, 1, 3)}, wrt,
				func(in []*G.Node) (*G.Node, error) { return BatchNorm(in[0], in[1], in[2], st, training, o) }, nil, 1e-3, atol, rtol)
		}
	}
	checkGrad(t, "swapNC", []*tensor.Dense{randTensor(rng, 1, 2, 3, 4, 5)}, []int{0},
		func(in []*G.Node) (*G.Node, error) { return SwapNC(in[0]) }, nil, 1e-2, atol, rtol)
	checkGrad(t, "concat", []*tensor.Dense{randTensor(rng, 1, 2, 3, 4, 4), randTensor(rng, 1, 3, 3, 4, 4), randTensor(rng, 1, 1, 3, 4, 4)}, []int{0, 1, 2},
		func(in []*G.Node) (*G.Node, error) { return ConcatChannels(in...) }, nil, 1e-2, atol, rtol)
	checkGrad(t, "avgpool 2/2", []*tensor.Dense{randTensor(rng, 1, 2, 3, 6, 6)}, []int{0},
		func(in []*G.Node) (*G.Node, error) { return AvgPool2D(in[0], 2, 2) }, nil, 1e-2, atol, rtol)
	checkGrad(t, "avgpool 2/2 odd", []*tensor.Dense{randTensor(rng, 1, 2, 3, 7, 5)}, []int{0},
		func(in []*G.Node) (*G.Node, error) { return AvgPool2D(in[0], 2, 2) }, nil, 1e-2, atol, rtol)
	checkGrad(t, "avgpool 3/2", []*tensor.Dense{randTensor(rng, 1, 2, 3, 7, 7)}, []int{0},
		func(in []*G.Node) (*G.Node, error) { return AvgPool2D(in[0], 3, 2) }, nil, 1e-2, atol, rtol)
	checkGrad(t, "maxpool 2", []*tensor.Dense{randTensor(rng, 1, 2, 3, 6, 4)}, []int{0},
		func(in []*G.Node) (*G.Node, error) { return MaxPool2(in[0]) }, nil, 1e-3, atol, rtol)
	checkGrad(t, "maxpool 2 odd", []*tensor.Dense{randTensor(rng, 1, 2, 3, 7, 5)}, []int{0},
		func(in []*G.Node) (*G.Node, error) { return MaxPool2(in[0]) }, nil, 1e-3, atol, rtol)
	checkGrad(t, "global max pool", []*tensor.Dense{randTensor(rng, 1, 4, 3, 3, 3)}, []int{0},
		func(in []*G.Node) (*G.Node, error) { return GlobalMaxPool(in[0]) }, nil, 1e-3, atol, rtol)
	checkGrad(t, "global avg pool", []*tensor.Dense{randTensor(rng, 1, 4, 3, 5, 5)}, []int{0},
		func(in []*G.Node) (*G.Node, error) { return GlobalAvgPool(in[0]) }, nil, 1e-2, atol, rtol)
	checkGrad(t, "linear", []*tensor.Dense{randTensor(rng, 1, 5, 7), randTensor(rng, 0.5, 4, 7), randTensor(rng, 1, 4)}, []int{0, 1, 2},
		func(in []*G.Node) (*G.Node, error) { return Linear(in[0], in[1], in[2]) }, nil, 1e-2, atol, rtol)
	checkGrad(t, "scaled linear", []*tensor.Dense{randTensor(rng, 1, 5, 7), randTensor(rng, 0.5, 4, 7)}, []int{0, 1},
		func(in []*G.Node) (*G.Node, error) { return ScaledLinear(in[0], in[1], 1.0/9) }, nil, 1e-2, atol, rtol)
	checkGrad(t, "relu", []*tensor.Dense{randTensor(rng, 1, 5, 7)}, []int{0},
		func(in []*G.Node) (*G.Node, error) { return ReLU(in[0]) }, nil, 1e-3, atol, rtol)
	checkGrad(t, "add", []*tensor.Dense{randTensor(rng, 1, 2, 3, 4, 4), randTensor(rng, 1, 2, 3, 4, 4)}, []int{0, 1},
		func(in []*G.Node) (*G.Node, error) { return AddTensors(in[0], in[1]) }, nil, 1e-2, atol, rtol)
	pcg := rand.NewPCG(3, 4)
	checkGrad(t, "dropout", []*tensor.Dense{randTensor(rng, 1, 2, 3, 4, 4)}, []int{0},
		func(in []*G.Node) (*G.Node, error) { return Dropout(in[0], 0.3, rand.New(pcg)) }, func() { pcg.Seed(3, 4) }, 1e-2, atol, rtol)

	labels := tensor.New(tensor.WithBacking([]float32{0, 3, 1, 2, 3, 0}), tensor.WithShape(6))
	for _, c := range []struct {
		heads int
		temp  float64
		mean  bool
	}{{1, 1, true}, {2, 1, true}, {1, 1000, false}, {2, 1000, false}, {2, 2, false}} {
		ins := []*tensor.Dense{labels}
		wrt := []int{}
		for h := 0; h < c.heads; h++ {
			ins = append(ins, randTensor(rng, 2, 6, 4))
			wrt = append(wrt, h+1)
		}
		// At T = 1000 the loss changes on the scale of T: a step of 1e-2
		// would drown in float32 rounding of the loss.
		h, atolNLL := 1e-2, atol
		if c.temp > 100 {
			h, atolNLL = 5, 1e-6
		}
		checkGrad(t, fmt.Sprintf("nll heads=%d T=%g", c.heads, c.temp), ins, wrt,
			func(in []*G.Node) (*G.Node, error) { return SoftmaxNLL(in[0], c.temp, c.mean, in[1:]...) }, nil, h, atolNLL, rtol)
	}
	checkGrad(t, "label-smoothed cross-entropy", []*tensor.Dense{labels, randTensor(rng, 2, 6, 4)}, []int{1},
		func(in []*G.Node) (*G.Node, error) { return SmoothedCrossEntropy(in[0], in[1], 0.2) }, nil, 1e-2, atol, rtol)
	for _, scale := range []float64{0.5, 3} {
		checkGrad(t, fmt.Sprintf("mean entropy scale %g", scale), []*tensor.Dense{randTensor(rng, scale, 6, 5)}, []int{0},
			func(in []*G.Node) (*G.Node, error) { return MeanEntropy(in[0]) }, nil, 1e-2, atol, rtol)
	}
	// Scalars: the hinge of a difference of two mean entropies (head 2
	// sharper than head 1), active at margin 1.2 and inactive at 0.01.
	for _, margin := range []float64{1.2, 0.01} {
		checkGrad(t, fmt.Sprintf("hinge of an entropy gap, margin %g", margin), []*tensor.Dense{randTensor(rng, 0.5, 6, 5), randTensor(rng, 3, 6, 5)}, []int{0, 1},
			func(in []*G.Node) (*G.Node, error) {
				h1, err := MeanEntropy(in[0])
				if err != nil {
					return nil, err
				}
				h2, err := MeanEntropy(in[1])
				if err != nil {
					return nil, err
				}
				gap, err := SubScalars(h1, h2)
				if err != nil {
					return nil, err
				}
				return Hinge(margin, gap)
			}, nil, 1e-2, atol, rtol)
	}
}
