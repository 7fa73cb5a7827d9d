package nets

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Layout ops: images arrive as (N, C, H, W), the layout of data files and of
// PyTorch; inside the network activations are (C, N, H, W). Concatenation
// and slicing along channels are then plain copies of contiguous blocks.

// transposeOp swaps the first two axes of a rank-4 tensor; it is its own
// adjoint, so its gradient is another transposeOp.
type transposeOp struct {
	opBase
	in  tensor.Shape
	out buffer
}

// SwapNC turns (A, B, H, W) into (B, A, H, W): NCHW ↔ CNHW.
func SwapNC(x *G.Node) (*G.Node, error) {
	s := x.Shape()
	if s.Dims() != 4 {
		return nil, fmt.Errorf("nets: SwapNC wants a rank-4 tensor, got %v", s)
	}
	return G.ApplyOp(&transposeOp{opBase: newOpBase("swapNC"), in: s.Clone()}, x)
}

func (op *transposeOp) Arity() int    { return 1 }
func (op *transposeOp) Type() hm.Type { return fnType(tt(4), tt(4)) }
func (op *transposeOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.in[1], op.in[0], op.in[2], op.in[3]}, nil
}

func (op *transposeOp) Do(vs ...G.Value) (G.Value, error) {
	x := f32(vs[0])
	a, b, plane := op.in[0], op.in[1], op.in[2]*op.in[3]
	out := op.out.get(b, a, op.in[2], op.in[3])
	y := f32(out)
	parallel(a, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			for j := 0; j < b; j++ {
				copy(y[(j*a+i)*plane:(j*a+i+1)*plane], x[(i*b+j)*plane:(i*b+j+1)*plane])
			}
		}
	})
	return out, nil
}

func (op *transposeOp) DiffWRT(int) []bool { return []bool{true} }
func (op *transposeOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := SwapNC(grad)
	return G.Nodes{d}, err
}

// concatOp joins (Ci, N, H, W) tensors along channels.
type concatOp struct {
	opBase
	shapes []tensor.Shape
	out    buffer
}

// ConcatChannels joins xs, all (Ci, N, H, W) with the same N, H, W, along C.
func ConcatChannels(xs ...*G.Node) (*G.Node, error) {
	op := &concatOp{opBase: newOpBase("concat%d", len(xs))}
	for i, x := range xs {
		s := x.Shape()
		if s.Dims() != 4 || (i > 0 && (s[1] != op.shapes[0][1] || s[2] != op.shapes[0][2] || s[3] != op.shapes[0][3])) {
			return nil, fmt.Errorf("nets: ConcatChannels: input %d has shape %v, want (C,%v)", i, s, op.shapes[0][1:])
		}
		op.shapes = append(op.shapes, s.Clone())
	}
	return G.ApplyOp(op, xs...)
}

func (op *concatOp) Arity() int { return len(op.shapes) }
func (op *concatOp) Type() hm.Type {
	ts := make([]hm.Type, len(op.shapes)+1)
	for i := range ts {
		ts[i] = tt(4)
	}
	return fnType(ts...)
}
func (op *concatOp) channels() int {
	c := 0
	for _, s := range op.shapes {
		c += s[0]
	}
	return c
}
func (op *concatOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	s := op.shapes[0]
	return tensor.Shape{op.channels(), s[1], s[2], s[3]}, nil
}

func (op *concatOp) Do(vs ...G.Value) (G.Value, error) {
	s := op.shapes[0]
	out := op.out.get(op.channels(), s[1], s[2], s[3])
	y := f32(out)
	offs := make([]int, len(vs)+1)
	for i, v := range vs {
		offs[i+1] = offs[i] + len(f32(v))
	}
	parallel(len(vs), func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			copy(y[offs[i]:offs[i+1]], f32(vs[i]))
		}
	})
	return out, nil
}

func (op *concatOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}

func (op *concatOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	grads := make(G.Nodes, len(inputs))
	c0 := 0
	for i, s := range op.shapes {
		d, err := G.ApplyOp(&sliceChannelsOp{opBase: newOpBase("∂ %v[%d]", op, i), from: c0, shape: s}, grad)
		if err != nil {
			return nil, err
		}
		grads[i] = d
		c0 += s[0]
	}
	return grads, nil
}

// sliceChannelsOp copies channels [from, from+shape[0]) of a (C, N, H, W) tensor.
type sliceChannelsOp struct {
	opBase
	from  int
	shape tensor.Shape
	out   buffer
}

func (op *sliceChannelsOp) Arity() int    { return 1 }
func (op *sliceChannelsOp) Type() hm.Type { return fnType(tt(4), tt(4)) }
func (op *sliceChannelsOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}

func (op *sliceChannelsOp) Do(vs ...G.Value) (G.Value, error) {
	x := f32(vs[0])
	out := op.out.get(op.shape...)
	y := f32(out)
	per := op.shape[1] * op.shape[2] * op.shape[3]
	copy(y, x[op.from*per:(op.from+op.shape[0])*per])
	return out, nil
}

func (op *sliceChannelsOp) DiffWRT(int) []bool { return []bool{false} }
func (op *sliceChannelsOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("nets: %v has no second derivative", op)
}
