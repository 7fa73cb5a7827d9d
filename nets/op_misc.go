package nets

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// scalarOp is a function of scalars with its derivatives: the small
// arithmetic that joins the parts of a loss (a − b, max(0, m − x), −x).
type scalarOp struct {
	opBase
	n int
	f func(x []float64) float64
	// df gives ∂f/∂x_i at x (of the last forward run).
	df  func(x []float64, i int) float64
	x   []float64
	out G.F32
}

func newScalarOp(name string, xs []*G.Node, f func([]float64) float64, df func([]float64, int) float64) (*G.Node, error) {
	for i, x := range xs {
		if !x.IsScalar() {
			return nil, fmt.Errorf("nets: %s: input %d has shape %v, want a scalar", name, i, x.Shape())
		}
	}
	return G.ApplyOp(&scalarOp{opBase: newOpBase("%s", name), n: len(xs), f: f, df: df}, xs...)
}

// SumScalars adds scalars (the parts of a loss).
func SumScalars(xs ...*G.Node) (*G.Node, error) {
	return newScalarOp(fmt.Sprintf("sum%d", len(xs)), xs, func(x []float64) float64 {
		var s float64
		for _, v := range x {
			s += v
		}
		return s
	}, func([]float64, int) float64 { return 1 })
}

// SubScalars is a − b.
func SubScalars(a, b *G.Node) (*G.Node, error) {
	return newScalarOp("sub", []*G.Node{a, b}, func(x []float64) float64 { return x[0] - x[1] },
		func(_ []float64, i int) float64 { return [2]float64{1, -1}[i] })
}

// ScaleScalar is w·x.
func ScaleScalar(w float64, x *G.Node) (*G.Node, error) {
	return newScalarOp(fmt.Sprintf("scale/%g", w), []*G.Node{x}, func(x []float64) float64 { return w * x[0] },
		func([]float64, int) float64 { return w })
}

// Hinge is max(0, margin − x).
func Hinge(margin float64, x *G.Node) (*G.Node, error) {
	return newScalarOp(fmt.Sprintf("hinge/m%g", margin), []*G.Node{x}, func(x []float64) float64 { return math.Max(0, margin-x[0]) },
		func(x []float64, _ int) float64 {
			if margin-x[0] > 0 {
				return -1
			}
			return 0
		})
}

func (op *scalarOp) Arity() int { return op.n }
func (op *scalarOp) Type() hm.Type {
	ts := make([]hm.Type, op.n+1)
	for i := range ts {
		ts[i] = scalarType
	}
	return fnType(ts...)
}
func (op *scalarOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return tensor.ScalarShape(), nil }
func (op *scalarOp) Do(vs ...G.Value) (G.Value, error) {
	if op.x == nil {
		op.x = make([]float64, op.n)
	}
	for i, v := range vs {
		op.x[i] = float64(scalarOf(v))
	}
	op.out = G.F32(op.f(op.x))
	return &op.out, nil
}
func (op *scalarOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}
func (op *scalarOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	grads := make(G.Nodes, len(inputs))
	for i := range grads {
		d, err := G.ApplyOp(&scalarGradOp{opBase: newOpBase("∂%d %v", i, op), fwd: op, i: i}, grad)
		if err != nil {
			return nil, err
		}
		grads[i] = d
	}
	return grads, nil
}

// scalarGradOp is g·∂f/∂x_i from the upstream g and the forward run.
type scalarGradOp struct {
	opBase
	fwd *scalarOp
	i   int
	out G.F32
}

func (op *scalarGradOp) Arity() int    { return 1 }
func (op *scalarGradOp) Type() hm.Type { return fnType(scalarType, scalarType) }
func (op *scalarGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}
func (op *scalarGradOp) Do(vs ...G.Value) (G.Value, error) {
	op.out = G.F32(float64(scalarOf(vs[0])) * op.fwd.df(op.fwd.x, op.i))
	return &op.out, nil
}
func (op *scalarGradOp) DiffWRT(int) []bool { return []bool{false} }
func (op *scalarGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("nets: %v has no second derivative", op)
}

// stopGradOp copies its input and passes no gradient back: Step A of MCD
// trains head 2 on detached features, so the extractor learns through head 1
// only (the authors' c2(feat_s.detach())).
type stopGradOp struct {
	opBase
	shape tensor.Shape
	out   buffer
}

// StopGradient returns a copy of x through which no gradient flows.
func StopGradient(x *G.Node) (*G.Node, error) {
	s := x.Shape()
	return G.ApplyOp(&stopGradOp{opBase: newOpBase("stopgrad"), shape: s.Clone()}, x)
}

func (op *stopGradOp) Arity() int    { return 1 }
func (op *stopGradOp) Type() hm.Type { return fnType(tt(op.shape.Dims()), tt(op.shape.Dims())) }
func (op *stopGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}
func (op *stopGradOp) Do(vs ...G.Value) (G.Value, error) {
	out := op.out.get(op.shape...)
	copy(f32(out), f32(vs[0]))
	return out, nil
}
func (op *stopGradOp) DiffWRT(int) []bool { return []bool{false} }
func (op *stopGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return G.Nodes{nil}, nil
}

// addOp adds two tensors of one shape (the residual connection of a WRN block).
type addOp struct {
	opBase
	shape tensor.Shape
	out   buffer
}

// AddTensors returns a + b for equal shapes.
func AddTensors(a, b *G.Node) (*G.Node, error) {
	if !a.Shape().Eq(b.Shape()) {
		return nil, fmt.Errorf("nets: AddTensors: shapes %v and %v differ", a.Shape(), b.Shape())
	}
	s := a.Shape()
	return G.ApplyOp(&addOp{opBase: newOpBase("add"), shape: s.Clone()}, a, b)
}

func (op *addOp) Arity() int { return 2 }
func (op *addOp) Type() hm.Type {
	t := tt(op.shape.Dims())
	return fnType(t, t, t)
}
func (op *addOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }
func (op *addOp) Do(vs ...G.Value) (G.Value, error) {
	a, b := f32(vs[0]), f32(vs[1])
	out := op.out.get(op.shape...)
	y := f32(out)
	parallel(len(y), func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			y[i] = a[i] + b[i]
		}
	})
	return out, nil
}
func (op *addOp) DiffWRT(int) []bool { return []bool{true, true} }
func (op *addOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	// Both inputs receive the upstream gradient; copies keep the rule that no
	// op output is shared between two consumers' registers.
	a, err := G.ApplyOp(&stopGradOp{opBase: newOpBase("∂a %v", op), shape: op.shape}, grad)
	if err != nil {
		return nil, err
	}
	b, err := G.ApplyOp(&stopGradOp{opBase: newOpBase("∂b %v", op), shape: op.shape}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{a, b}, nil
}

// dropoutOp zeroes each element with probability p in training and scales
// the rest by 1/(1−p) (inverted dropout, as torch.nn.functional.dropout).
type dropoutOp struct {
	opBase
	p     float32
	shape tensor.Shape
	rng   *rand.Rand
	mask  []float32
	out   buffer
}

// Dropout applies inverted dropout with probability p, drawing masks from rng.
func Dropout(x *G.Node, p float64, rng *rand.Rand) (*G.Node, error) {
	if p < 0 || p >= 1 {
		return nil, fmt.Errorf("nets: dropout probability %v outside [0,1)", p)
	}
	s := x.Shape()
	return G.ApplyOp(&dropoutOp{opBase: newOpBase("dropout%g", p), p: float32(p), shape: s.Clone(), rng: rng}, x)
}

func (op *dropoutOp) Arity() int { return 1 }
func (op *dropoutOp) Type() hm.Type {
	t := tt(op.shape.Dims())
	return fnType(t, t)
}
func (op *dropoutOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }
func (op *dropoutOp) Do(vs ...G.Value) (G.Value, error) {
	x := f32(vs[0])
	out := op.out.get(op.shape...)
	y := f32(out)
	if len(op.mask) != len(x) {
		op.mask = make([]float32, len(x))
	}
	keep := 1 / (1 - op.p)
	for i := range x {
		m := float32(0)
		if op.rng.Float32() >= op.p {
			m = keep
		}
		op.mask[i] = m
		y[i] = x[i] * m
	}
	return out, nil
}
func (op *dropoutOp) DiffWRT(int) []bool { return []bool{true} }
func (op *dropoutOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&dropoutGradOp{opBase: newOpBase("∂ %v", op), fwd: op}, grad)
	return G.Nodes{d}, err
}

type dropoutGradOp struct {
	opBase
	fwd *dropoutOp
	out buffer
}

func (op *dropoutGradOp) Arity() int { return 1 }
func (op *dropoutGradOp) Type() hm.Type {
	t := tt(op.fwd.shape.Dims())
	return fnType(t, t)
}
func (op *dropoutGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.fwd.shape.Clone(), nil
}
func (op *dropoutGradOp) Do(vs ...G.Value) (G.Value, error) {
	dy := f32(vs[0])
	out := op.out.get(op.fwd.shape...)
	dx := f32(out)
	for i, m := range op.fwd.mask {
		dx[i] = dy[i] * m
	}
	return out, nil
}
func (op *dropoutGradOp) DiffWRT(int) []bool { return []bool{false} }
func (op *dropoutGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("nets: %v has no second derivative", op)
}

// reluOp is max(0, x) on a tensor of any shape (the MLP's hidden layers;
// convolutional nets use the ReLU fused into batch norm).
type reluOp struct {
	opBase
	shape tensor.Shape
	out   buffer
}

// ReLU returns max(0, x).
func ReLU(x *G.Node) (*G.Node, error) {
	s := x.Shape()
	return G.ApplyOp(&reluOp{opBase: newOpBase("relu"), shape: s.Clone()}, x)
}

func (op *reluOp) Arity() int { return 1 }
func (op *reluOp) Type() hm.Type {
	t := tt(op.shape.Dims())
	return fnType(t, t)
}
func (op *reluOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }
func (op *reluOp) Do(vs ...G.Value) (G.Value, error) {
	x := f32(vs[0])
	out := op.out.get(op.shape...)
	y := f32(out)
	for i, v := range x {
		y[i] = max(v, 0)
	}
	return out, nil
}
func (op *reluOp) DiffWRT(int) []bool { return []bool{true} }
func (op *reluOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&reluGradOp{opBase: newOpBase("∂ %v", op), shape: op.shape}, in[0], grad)
	return G.Nodes{d}, err
}

// reluGradOp passes the gradient where the input (its first input) was positive.
type reluGradOp struct {
	opBase
	shape tensor.Shape
	out   buffer
}

func (op *reluGradOp) Arity() int { return 2 }
func (op *reluGradOp) Type() hm.Type {
	t := tt(op.shape.Dims())
	return fnType(t, t, t)
}
func (op *reluGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }
func (op *reluGradOp) Do(vs ...G.Value) (G.Value, error) {
	x, dy := f32(vs[0]), f32(vs[1])
	out := op.out.get(op.shape...)
	dx := f32(out)
	for i, v := range x {
		if v > 0 {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
	return out, nil
}
func (op *reluGradOp) DiffWRT(int) []bool { return []bool{false, false} }
func (op *reluGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("nets: %v has no second derivative", op)
}
