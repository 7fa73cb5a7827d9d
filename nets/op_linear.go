package nets

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// linearOp is a fully connected layer: (N, F) features, (K, F) weights and
// (K) bias give (N, K) logits, as torch.nn.Linear; without a bias and with
// a fixed output scale s it is s·x·wᵀ (airbench's head: a bias-free linear
// layer times 1/9).
type linearOp struct {
	opBase
	n, f, k int
	bias    bool
	scale   float32
	out     buffer
	// noParamGrads (skipParamGrads) leaves the weight's and bias's
	// gradients out of the backward pass.
	noParamGrads bool
}

// Linear computes x·wᵀ + b for x (N, F), w (K, F), b (K).
func Linear(x, w, b *G.Node) (*G.Node, error) {
	xs, ws, bs := x.Shape(), w.Shape(), b.Shape()
	if xs.Dims() != 2 || ws.Dims() != 2 || xs[1] != ws[1] || bs.TotalSize() != ws[0] {
		return nil, fmt.Errorf("nets: Linear: input %v, weight %v, bias %v do not match", xs, ws, bs)
	}
	return G.ApplyOp(&linearOp{opBase: newOpBase("linear%dx%d", ws[0], ws[1]), n: xs[0], f: xs[1], k: ws[0], bias: true, scale: 1}, x, w, b)
}

// ScaledLinear computes scale·x·wᵀ for x (N, F), w (K, F): no bias.
func ScaledLinear(x, w *G.Node, scale float32) (*G.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if xs.Dims() != 2 || ws.Dims() != 2 || xs[1] != ws[1] {
		return nil, fmt.Errorf("nets: ScaledLinear: input %v and weight %v do not match", xs, ws)
	}
	return G.ApplyOp(&linearOp{opBase: newOpBase("linear%dx%d*%g", ws[0], ws[1], scale), n: xs[0], f: xs[1], k: ws[0], scale: scale}, x, w)
}

func (op *linearOp) Arity() int {
	if op.bias {
		return 3
	}
	return 2
}
func (op *linearOp) Type() hm.Type {
	if op.bias {
		return fnType(tt(2), tt(2), tt(1), tt(2))
	}
	return fnType(tt(2), tt(2), tt(2))
}
func (op *linearOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.n, op.k}, nil
}

func (op *linearOp) Do(vs ...G.Value) (G.Value, error) {
	x, w := f32(vs[0]), f32(vs[1])
	out := op.out.get(op.n, op.k)
	y := f32(out)
	var beta float32
	if op.bias {
		b := f32(vs[2])
		for i := 0; i < op.n; i++ {
			copy(y[i*op.k:(i+1)*op.k], b)
		}
		beta = 1
	}
	sgemm(false, true, op.n, op.k, op.f, op.scale, x, op.f, w, op.f, beta, y, op.k)
	return out, nil
}

func (op *linearOp) DiffWRT(int) []bool {
	return []bool{true, !op.noParamGrads, !op.noParamGrads}[:op.Arity()]
}

func (op *linearOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&linearGradOp{opBase: newOpBase("∂x %v", op), fwd: op, which: 0}, inputs[1], grad)
	if err != nil {
		return nil, err
	}
	if op.noParamGrads {
		return G.Nodes{dx, nil, nil}[:op.Arity()], nil
	}
	dw, err := G.ApplyOp(&linearGradOp{opBase: newOpBase("∂w %v", op), fwd: op, which: 1}, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	if !op.bias {
		return G.Nodes{dx, dw}, nil
	}
	db, err := G.ApplyOp(&linearGradOp{opBase: newOpBase("∂b %v", op), fwd: op, which: 2}, grad, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw, db}, nil
}

// linearGradOp computes one gradient of a linear layer from (other, ∂L/∂y):
// which 0 gives ∂x = ∂y·w from (w, ∂y); 1 gives ∂w = ∂yᵀ·x from (x, ∂y);
// 2 gives ∂b = column sums of ∂y.
type linearGradOp struct {
	opBase
	fwd   *linearOp
	which int
	out   buffer
}

func (op *linearGradOp) Arity() int { return 2 }
func (op *linearGradOp) Type() hm.Type {
	if op.which == 2 {
		return fnType(tt(2), tt(2), tt(1))
	}
	return fnType(tt(2), tt(2), tt(2))
}
func (op *linearGradOp) shape() []int {
	f := op.fwd
	switch op.which {
	case 0:
		return []int{f.n, f.f}
	case 1:
		return []int{f.k, f.f}
	}
	return []int{f.k}
}
func (op *linearGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape(op.shape()), nil
}

func (op *linearGradOp) Do(vs ...G.Value) (G.Value, error) {
	other, dy := f32(vs[0]), f32(vs[1])
	f := op.fwd
	out := op.out.get(op.shape()...)
	d := f32(out)
	switch op.which {
	case 0:
		sgemm(false, false, f.n, f.f, f.k, f.scale, dy, f.k, other, f.f, 0, d, f.f)
	case 1:
		sgemm(true, false, f.k, f.f, f.n, f.scale, dy, f.k, other, f.f, 0, d, f.f)
	default:
		zero(d)
		for i := 0; i < f.n; i++ {
			for j, v := range dy[i*f.k : (i+1)*f.k] {
				d[j] += v
			}
		}
	}
	return out, nil
}

func (op *linearGradOp) DiffWRT(int) []bool { return []bool{false, false} }
func (op *linearGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("nets: %v has no second derivative", op)
}
