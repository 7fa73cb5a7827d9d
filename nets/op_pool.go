package nets

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// avgPoolOp averages k×k windows at a stride, without padding, on
// (C, N, H, W). (Stock gorgonia's AveragePool2D divides by the input width
// and has a wrong gradient.)
type avgPoolOp struct {
	opBase
	g   geom
	out buffer
}

// AvgPool2D averages k×k windows at the given stride on x (C, N, H, W).
func AvgPool2D(x *G.Node, k, stride int) (*G.Node, error) {
	s := x.Shape()
	if s.Dims() != 4 || s[2] < k || s[3] < k {
		return nil, fmt.Errorf("nets: AvgPool2D: %dx%d window on input %v", k, k, s)
	}
	g := newGeom(s[0], s[1], s[2], s[3], k, k, stride, 0)
	return G.ApplyOp(&avgPoolOp{opBase: newOpBase("avgpool%d/s%d", k, stride), g: g}, x)
}

func (op *avgPoolOp) Arity() int    { return 1 }
func (op *avgPoolOp) Type() hm.Type { return fnType(tt(4), tt(4)) }
func (op *avgPoolOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.g.C, op.g.N, op.g.OH, op.g.OW}, nil
}

func (op *avgPoolOp) Do(vs ...G.Value) (G.Value, error) {
	x := f32(vs[0])
	g := op.g
	out := op.out.get(g.C, g.N, g.OH, g.OW)
	y := f32(out)
	scale := 1 / float32(g.KH*g.KW)
	plane := g.H * g.W
	parallel(g.C*g.N, func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			src, dst := x[p*plane:(p+1)*plane], y[p*g.Pix:(p+1)*g.Pix]
			if g.KH == 2 && g.KW == 2 && g.Stride == 2 {
				avgPool2x2(src, dst, g.W, g.OH, g.OW, scale)
				continue
			}
			for oy := 0; oy < g.OH; oy++ {
				for ox := 0; ox < g.OW; ox++ {
					var s float32
					for ky := 0; ky < g.KH; ky++ {
						row := src[(oy*g.Stride+ky)*g.W+ox*g.Stride:]
						for kx := 0; kx < g.KW; kx++ {
							s += row[kx]
						}
					}
					dst[oy*g.OW+ox] = s * scale
				}
			}
		}
	})
	return out, nil
}

// avgPool2x2 is avgPoolOp's 2×2, stride-2 window on one plane (w wide),
// summing each window in the general loop's order.
func avgPool2x2(src, dst []float32, w, oh, ow int, scale float32) {
	for oy := 0; oy < oh; oy++ {
		r0, r1 := src[2*oy*w:2*oy*w+2*ow], src[(2*oy+1)*w:(2*oy+1)*w+2*ow]
		d := dst[oy*ow : (oy+1)*ow]
		for ox := range d {
			d[ox] = (r0[2*ox] + r0[2*ox+1] + r1[2*ox] + r1[2*ox+1]) * scale
		}
	}
}

// avgPool2x2Grad spreads each output's gradient over its 2×2 window, on a
// plane the windows tile exactly (so every input gets one share).
func avgPool2x2Grad(src, dst []float32, w, oh, ow int, scale float32) {
	for oy := 0; oy < oh; oy++ {
		s := src[oy*ow : (oy+1)*ow]
		r0, r1 := dst[2*oy*w:2*oy*w+2*ow], dst[(2*oy+1)*w:(2*oy+1)*w+2*ow]
		for ox, v := range s {
			v *= scale
			r0[2*ox], r0[2*ox+1], r1[2*ox], r1[2*ox+1] = v, v, v, v
		}
	}
}

func (op *avgPoolOp) DiffWRT(int) []bool { return []bool{true} }
func (op *avgPoolOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&avgPoolGradOp{opBase: newOpBase("∂ %v", op), g: op.g}, grad)
	return G.Nodes{d}, err
}

type avgPoolGradOp struct {
	opBase
	g   geom
	out buffer
}

func (op *avgPoolGradOp) Arity() int    { return 1 }
func (op *avgPoolGradOp) Type() hm.Type { return fnType(tt(4), tt(4)) }
func (op *avgPoolGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.g.C, op.g.N, op.g.H, op.g.W}, nil
}

func (op *avgPoolGradOp) Do(vs ...G.Value) (G.Value, error) {
	dy := f32(vs[0])
	g := op.g
	out := op.out.get(g.C, g.N, g.H, g.W)
	dx := f32(out)
	scale := 1 / float32(g.KH*g.KW)
	plane := g.H * g.W
	parallel(g.C*g.N, func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			src, dst := dy[p*g.Pix:(p+1)*g.Pix], dx[p*plane:(p+1)*plane]
			if g.KH == 2 && g.KW == 2 && g.Stride == 2 && g.H == 2*g.OH && g.W == 2*g.OW {
				avgPool2x2Grad(src, dst, g.W, g.OH, g.OW, scale)
				continue
			}
			zero(dst)
			for oy := 0; oy < g.OH; oy++ {
				for ox := 0; ox < g.OW; ox++ {
					v := src[oy*g.OW+ox] * scale
					for ky := 0; ky < g.KH; ky++ {
						row := dst[(oy*g.Stride+ky)*g.W+ox*g.Stride:]
						for kx := 0; kx < g.KW; kx++ {
							row[kx] += v
						}
					}
				}
			}
		}
	})
	return out, nil
}

func (op *avgPoolGradOp) DiffWRT(int) []bool { return []bool{false} }
func (op *avgPoolGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("nets: %v has no second derivative", op)
}

// gapOp averages each channel of each image: (C, N, H, W) → (N, C), the
// feature matrix the classifier heads read. (Stock GlobalAveragePool2D has
// no gradient.)
type gapOp struct {
	opBase
	in  tensor.Shape
	out buffer
}

// GlobalAvgPool turns x (C, N, H, W) into features (N, C).
func GlobalAvgPool(x *G.Node) (*G.Node, error) {
	s := x.Shape()
	if s.Dims() != 4 {
		return nil, fmt.Errorf("nets: GlobalAvgPool wants (C,N,H,W), got %v", s)
	}
	return G.ApplyOp(&gapOp{opBase: newOpBase("gap"), in: s.Clone()}, x)
}

func (op *gapOp) Arity() int    { return 1 }
func (op *gapOp) Type() hm.Type { return fnType(tt(4), tt(2)) }
func (op *gapOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.in[1], op.in[0]}, nil
}

func (op *gapOp) Do(vs ...G.Value) (G.Value, error) {
	x := f32(vs[0])
	c, n, plane := op.in[0], op.in[1], op.in[2]*op.in[3]
	out := op.out.get(n, c)
	y := f32(out)
	scale := 1 / float32(plane)
	parallel(c, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			for i := 0; i < n; i++ {
				var s float32
				for _, v := range x[(ch*n+i)*plane : (ch*n+i+1)*plane] {
					s += v
				}
				y[i*c+ch] = s * scale
			}
		}
	})
	return out, nil
}

func (op *gapOp) DiffWRT(int) []bool { return []bool{true} }
func (op *gapOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&gapGradOp{opBase: newOpBase("∂ %v", op), in: op.in}, grad)
	return G.Nodes{d}, err
}

type gapGradOp struct {
	opBase
	in  tensor.Shape
	out buffer
}

func (op *gapGradOp) Arity() int    { return 1 }
func (op *gapGradOp) Type() hm.Type { return fnType(tt(2), tt(4)) }
func (op *gapGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.in.Clone(), nil
}

func (op *gapGradOp) Do(vs ...G.Value) (G.Value, error) {
	dy := f32(vs[0])
	c, n, plane := op.in[0], op.in[1], op.in[2]*op.in[3]
	out := op.out.get(op.in...)
	dx := f32(out)
	scale := 1 / float32(plane)
	parallel(c, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			for i := 0; i < n; i++ {
				v := dy[i*c+ch] * scale
				row := dx[(ch*n+i)*plane : (ch*n+i+1)*plane]
				for k := range row {
					row[k] = v
				}
			}
		}
	})
	return out, nil
}

func (op *gapGradOp) DiffWRT(int) []bool { return []bool{false} }
func (op *gapGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("nets: %v has no second derivative", op)
}

// maxPoolOp takes the maximum of 2×2 windows at stride 2 on (C, N, H, W),
// remembering where each maximum came from for the gradient.
type maxPoolOp struct {
	opBase
	g     geom
	out   buffer
	argma []int32 // index into the input plane of each output's maximum
}

// MaxPool2 halves H and W of x (C, N, H, W) with 2×2 max pooling at stride
// 2; an odd last row or column is dropped, as by PyTorch's MaxPool2d(2).
func MaxPool2(x *G.Node) (*G.Node, error) {
	s := x.Shape()
	if s.Dims() != 4 || s[2] < 2 || s[3] < 2 {
		return nil, fmt.Errorf("nets: MaxPool2 wants (C,N,H,W) with H, W ≥ 2; got %v", s)
	}
	return G.ApplyOp(&maxPoolOp{opBase: newOpBase("maxpool2"), g: newGeom(s[0], s[1], s[2], s[3], 2, 2, 2, 0)}, x)
}

func (op *maxPoolOp) Arity() int    { return 1 }
func (op *maxPoolOp) Type() hm.Type { return fnType(tt(4), tt(4)) }
func (op *maxPoolOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.g.C, op.g.N, op.g.OH, op.g.OW}, nil
}

func (op *maxPoolOp) Do(vs ...G.Value) (G.Value, error) {
	x := f32(vs[0])
	g := op.g
	out := op.out.get(g.C, g.N, g.OH, g.OW)
	y := f32(out)
	if len(op.argma) != len(y) {
		op.argma = make([]int32, len(y))
	}
	parallel(g.C*g.N, func(_, lo, hi int) {
		maxPool2(x[lo*g.H*g.W:hi*g.H*g.W], y[lo*g.Pix:hi*g.Pix], op.argma[lo*g.Pix:hi*g.Pix], g.H, g.W)
	})
	return out, nil
}

func (op *maxPoolOp) DiffWRT(int) []bool { return []bool{true} }
func (op *maxPoolOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	// The input is passed along only to keep the forward run's argmax in order.
	d, err := G.ApplyOp(&maxPoolGradOp{opBase: newOpBase("∂ %v", op), fwd: op}, inputs[0], grad)
	return G.Nodes{d}, err
}

type maxPoolGradOp struct {
	opBase
	fwd *maxPoolOp
	out buffer
}

func (op *maxPoolGradOp) Arity() int    { return 2 }
func (op *maxPoolGradOp) Type() hm.Type { return fnType(tt(4), tt(4), tt(4)) }
func (op *maxPoolGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	g := op.fwd.g
	return tensor.Shape{g.C, g.N, g.H, g.W}, nil
}

func (op *maxPoolGradOp) Do(vs ...G.Value) (G.Value, error) {
	dy := f32(vs[1])
	g := op.fwd.g
	out := op.out.get(g.C, g.N, g.H, g.W)
	dx := f32(out)
	plane := g.H * g.W
	parallel(g.C*g.N, func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			dst := dx[p*plane : (p+1)*plane]
			zero(dst)
			for o := p * g.Pix; o < (p+1)*g.Pix; o++ {
				dst[op.fwd.argma[o]] += dy[o]
			}
		}
	})
	return out, nil
}

func (op *maxPoolGradOp) DiffWRT(int) []bool { return []bool{false, false} }
func (op *maxPoolGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("nets: %v has no second derivative", op)
}

// gmpOp is global max pooling: (C, N, H, W) to features (N, C), the maximum
// of each plane (airbench's final MaxPool2d over the whole 3×3 map).
type gmpOp struct {
	opBase
	in     tensor.Shape
	out    buffer
	argmax []int32 // index within its plane of each maximum (the first on ties)
}

// GlobalMaxPool turns x (C, N, H, W) into features (N, C).
func GlobalMaxPool(x *G.Node) (*G.Node, error) {
	s := x.Shape()
	if s.Dims() != 4 {
		return nil, fmt.Errorf("nets: GlobalMaxPool wants (C,N,H,W), got %v", s)
	}
	return G.ApplyOp(&gmpOp{opBase: newOpBase("gmp"), in: s.Clone()}, x)
}

func (op *gmpOp) Arity() int    { return 1 }
func (op *gmpOp) Type() hm.Type { return fnType(tt(4), tt(2)) }
func (op *gmpOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.in[1], op.in[0]}, nil
}

func (op *gmpOp) Do(vs ...G.Value) (G.Value, error) {
	x := f32(vs[0])
	c, n, plane := op.in[0], op.in[1], op.in[2]*op.in[3]
	out := op.out.get(n, c)
	y := f32(out)
	if op.argmax == nil {
		op.argmax = make([]int32, c*n)
	}
	parallel(c, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			for i := 0; i < n; i++ {
				p := x[(ch*n+i)*plane : (ch*n+i+1)*plane]
				best := 0
				for k, v := range p {
					if v > p[best] {
						best = k
					}
				}
				y[i*c+ch], op.argmax[ch*n+i] = p[best], int32(best)
			}
		}
	})
	return out, nil
}

func (op *gmpOp) DiffWRT(int) []bool { return []bool{true} }
func (op *gmpOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&gmpGradOp{opBase: newOpBase("∂ %v", op), fwd: op}, grad)
	return G.Nodes{d}, err
}

// gmpGradOp routes each feature's gradient to its plane's maximum.
type gmpGradOp struct {
	opBase
	fwd *gmpOp
	out buffer
}

func (op *gmpGradOp) Arity() int    { return 1 }
func (op *gmpGradOp) Type() hm.Type { return fnType(tt(2), tt(4)) }
func (op *gmpGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.fwd.in.Clone(), nil
}

func (op *gmpGradOp) Do(vs ...G.Value) (G.Value, error) {
	dy := f32(vs[0])
	in := op.fwd.in
	c, n, plane := in[0], in[1], in[2]*in[3]
	out := op.out.get(in...)
	dx := f32(out)
	zero(dx)
	for ch := 0; ch < c; ch++ {
		for i := 0; i < n; i++ {
			dx[(ch*n+i)*plane+int(op.fwd.argmax[ch*n+i])] = dy[i*c+ch]
		}
	}
	return out, nil
}

func (op *gmpGradOp) DiffWRT(int) []bool { return []bool{false} }
func (op *gmpGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("nets: %v has no second derivative", op)
}
