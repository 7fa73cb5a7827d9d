package nets

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// A dense block of DenseNet-BC (Huang et al., CVPR 2017) as one op, in the
// memory-efficient way of Pleiss et al. ("Memory-Efficient Implementation
// of DenseNets", 2017): the block's concatenations share one buffer, the
// op's output, whose first C_l channels are layer l's input (in the
// (C, N, H, W) layout a prefix of channels is a prefix of the buffer), so
// each layer writes its k new channels in place and nothing is copied; the
// batch-norm outputs are recomputed in the backward pass from the block
// buffer and the forward pass's statistics. Per layer only the bottleneck
// convolution's output (4k channels) is kept for the backward pass.
//
// Each layer is also fused where memory traffic, not arithmetic, was the
// cost (mcdood bench --ops times the pieces): bn1's output never goes to
// memory — the 1×1 convolution normalises each tile of its input in cache,
// forward and for the weight gradient (convOp.forwardBN,
// convGradWeightOp.weightGradBN) — nor does bn2's where the 3×3
// convolution runs on the packed kernels, which normalise each image's
// planes as they pad them (convOp.takesBN); bn1's statistics of the
// channels the previous layer already normalised are that layer's
// (bnOp.reuse); and bn1's input gradient is added into the block's
// gradient buffer by its kernel (bnGradOp.backwardAdd), the last layer's
// to the output's gradient, which is so never copied. The arithmetic is
// still that of the layer-by-layer graph (bnOp, convOp and their
// gradients, whose kernels this op calls), so the results are the same
// floats; the tests compare them bit for bit.

// denseScratch is the memory the dense blocks of one graph share: the tape
// runs one op at a time, and none of it outlives the op using it.
type denseScratch struct {
	s1  scratch // ∂L/∂(bn1 output)
	s2  scratch // bn2's output, where the 3×3 convolution cannot apply bn2 itself
	h   scratch // bottleneck outputs, when no backward pass needs them
	ds2 scratch // ∂L/∂(bn2 output)
	dh  scratch // ∂L/∂(bottleneck output)
	// The column matrices and partial weight gradients of every
	// convolution of the blocks.
	cols, partials []scratch
}

// denseLayer is one bottleneck layer: BN-ReLU, 1×1 convolution to 4k
// channels, BN-ReLU, 3×3 convolution to k channels. Its ops are not graph
// nodes; the block op calls their arithmetic.
type denseLayer struct {
	c            int // input channels
	bn1, bn2     *bnOp
	conv1, conv2 *convOp
	bn1g, bn2g   bnGradOp
	gi1, gi2     convGradInputOp
	gw1, gw2     convGradWeightOp
	h            scratch // the bottleneck output, kept for the backward pass
	dw1, dw2     []float32
}

// lend makes the layer's convolutions use the block's shared scratch.
func (s *denseScratch) lend(l *denseLayer) {
	s.cols, s.partials = growScratch(s.cols), growScratch(s.partials)
	l.conv1.cols, l.conv2.cols, l.gi1.cols, l.gi2.cols, l.gw1.cols, l.gw2.cols = s.cols, s.cols, s.cols, s.cols, s.cols, s.cols
	l.gw1.partials, l.gw2.partials = s.partials, s.partials
}

// denseParams is how many parameters each layer takes: bn1 gamma and beta,
// the 1×1 weights, bn2 gamma and beta, the 3×3 weights.
const denseParams = 6

// denseBlockOp is a dense block (see above) on (C0, N, H, W) giving
// (C0 + L·k, N, H, W).
type denseBlockOp struct {
	opBase
	c0, k, width int // input channels, growth rate, bottleneck width (4k)
	n, h, w      int
	training     bool
	layers       []*denseLayer
	params       G.Nodes // the parameter nodes, for fuse
	sh           *denseScratch
	out          buffer
	// grads: a backward pass follows (SymDiff was called), so each layer
	// keeps its bottleneck output. fused: an evaluation graph without
	// gradients, where conv1 applies bn2 (see builder.fuseConvBN).
	grads, fused bool
	parts        *denseParts // times the layers' pieces (ProfileOps), nil when off
}

// DenseBlock is a dense block of DenseNet-BC bottleneck layers on x
// (C0, N, H, W), stored as Pleiss et al. (2017) do (see above). params
// holds, for each layer l with C = C0 + l·k input channels, bn1's gamma and
// beta (C), the 1×1 weights (4k, C, 1, 1), bn2's gamma and beta (4k) and
// the 3×3 weights (k, 4k, 3, 3); sts the running statistics of bn1 and
// bn2 of each layer. Every batch norm is followed by act (DenseNet's is
// ReLU). sh, which may be nil, is scratch shared with the graph's other
// blocks.
func DenseBlock(x *G.Node, params G.Nodes, sts []*bnState, training bool, act Act, sh *denseScratch) (*G.Node, error) {
	xs := x.Shape()
	layers := len(params) / denseParams
	if xs.Dims() != 4 || layers == 0 || len(params) != layers*denseParams || len(sts) != 2*layers {
		return nil, fmt.Errorf("nets: DenseBlock: input %v with %d parameters and %d batch-norm states", xs, len(params), len(sts))
	}
	ws := params[5].Shape()
	if ws.Dims() != 4 {
		return nil, fmt.Errorf("nets: DenseBlock: 3×3 weights %v", ws)
	}
	if sh == nil {
		sh = &denseScratch{}
	}
	op := &denseBlockOp{c0: xs[0], k: ws[0], width: ws[1], n: xs[1], h: xs[2], w: xs[3], training: training, params: params, sh: sh}
	for i := range layers {
		c := op.c0 + i*op.k
		want := [denseParams]tensor.Shape{{c}, {c}, {op.width, c, 1, 1}, {op.width}, {op.width}, {op.k, op.width, 3, 3}}
		for j, s := range want {
			if got := params[i*denseParams+j].Shape(); got.TotalSize() != s.TotalSize() || (s.Dims() == 4 && !got.Eq(s)) {
				return nil, fmt.Errorf("nets: DenseBlock: layer %d parameter %d has shape %v, want %v", i, j, got, s)
			}
		}
		if len(sts[2*i].Mean) != c || len(sts[2*i+1].Mean) != op.width {
			return nil, fmt.Errorf("nets: DenseBlock: layer %d batch-norm states do not match", i)
		}
		l := &denseLayer{c: c,
			bn1:   &bnOp{st: sts[2*i], training: training, act: act, shape: tensor.Shape{c, op.n, op.h, op.w}},
			bn2:   &bnOp{st: sts[2*i+1], training: training, act: act, shape: tensor.Shape{op.width, op.n, op.h, op.w}},
			conv1: &convOp{g: newGeom(c, op.n, op.h, op.w, 1, 1, 1, 0), cout: op.width, training: training},
			conv2: &convOp{g: newGeom(op.width, op.n, op.h, op.w, 3, 3, 1, 1), cout: op.k, training: training},
		}
		if i > 0 {
			l.bn1.reuse = op.layers[i-1].bn1 // the moments of the channels before this layer's input's last k
		}
		l.bn1g.fwd, l.bn2g.fwd = l.bn1, l.bn2
		l.gi1 = convGradInputOp{fwd: l.conv1, g: l.conv1.g, cout: op.width}
		l.gi2 = convGradInputOp{fwd: l.conv2, g: l.conv2.g, cout: op.k}
		l.gw1 = convGradWeightOp{fwd: l.conv1, g: l.conv1.g, cout: op.width}
		l.gw2 = convGradWeightOp{fwd: l.conv2, g: l.conv2.g, cout: op.k}
		op.layers = append(op.layers, l)
	}
	op.opBase = newOpBase("denseblock%dx%d/k%d%v", layers, op.c0, op.k, act)
	return G.ApplyOp(op, append(G.Nodes{x}, params...)...)
}

// fuse makes each layer's 1×1 convolution apply the evaluation-mode bn2
// (and ReLU) to its output, as builder.fuseConvBN does for convolutions
// that are nodes; only for graphs without gradients.
func (op *denseBlockOp) fuse() {
	if op.training || op.grads {
		return
	}
	for i, l := range op.layers {
		p := op.params[i*denseParams:]
		l.conv1.post = &convPost{bn: l.bn2, gamma: p[3], beta: p[4]}
	}
	op.fused = true
}

func (op *denseBlockOp) channels() int { return op.c0 + len(op.layers)*op.k }
func (op *denseBlockOp) per() int      { return op.n * op.h * op.w }
func (op *denseBlockOp) Arity() int    { return 1 + len(op.params) }
func (op *denseBlockOp) Type() hm.Type {
	ts := []hm.Type{tt(4)}
	for i := range op.params {
		ts = append(ts, tt(op.params[i].Shape().Dims()))
	}
	return fnType(append(ts, tt(4))...)
}
func (op *denseBlockOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.channels(), op.n, op.h, op.w}, nil
}

func (op *denseBlockOp) Do(vs ...G.Value) (G.Value, error) {
	out := op.out.get(op.channels(), op.n, op.h, op.w)
	y, per, sh := f32(out), op.per(), op.sh
	t := op.parts.now()
	copy(y, f32(vs[0]))
	t = op.parts.lap(t, "copy input", 0, 8*float64(len(f32(vs[0]))))
	for i, l := range op.layers {
		p := vs[1+i*denseParams:]
		sh.lend(l)
		x := y[:l.c*per]
		l.bn1.prepare(x, f32(p[0]), f32(p[1]))
		t = op.parts.lap(t, "bn1 statistics", 0, bnStatsBytes(l.bn1, op.k*per))
		var h []float32
		if op.grads {
			h = l.h.get(op.width * per)
		} else {
			h = sh.h.get(op.width * per)
		}
		l.conv1.forwardBN(l.bn1, x, f32(p[2]), h)
		t = op.parts.lap(t, "bn1 + conv1 1×1", convFLOPs(l.conv1.g, l.conv1.cout), 0)
		out := y[l.c*per : (l.c+op.k)*per]
		switch {
		case op.fused: // conv1 has applied bn2
			l.conv2.forward(h, f32(p[5]), out)
		case l.conv2.takesBN(l.bn2): // conv2 applies bn2 as it copies its planes
			l.bn2.prepare(h, f32(p[3]), f32(p[4]))
			t = op.parts.lap(t, "bn2 statistics", 0, bnStatsBytes(l.bn2, op.width*per))
			l.conv2.forwardBN(l.bn2, h, f32(p[5]), out)
		default:
			s2 := sh.s2.get(op.width * per)
			l.bn2.forward(h, f32(p[3]), f32(p[4]), s2)
			t = op.parts.lap(t, "bn2", 0, bnBytes(l.bn2, op.width*per))
			l.conv2.forward(s2, f32(p[5]), out)
		}
		t = op.parts.lap(t, "conv2 3×3", convFLOPs(l.conv2.g, l.conv2.cout), 0)
	}
	return out, nil
}

func (op *denseBlockOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = i == 0 || op.training
	}
	return d
}

// SymDiff gives ∂L/∂x from one backward op over the whole block, and (in
// training mode) each parameter's gradient from an op that hands out what
// the backward op computed.
func (op *denseBlockOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	op.grads = true
	bwd := &denseBlockGradOp{opBase: newOpBase("∂ %v", op), fwd: op}
	args := G.Nodes{output, grad}
	for i := range op.layers {
		args = append(args, inputs[1+i*denseParams+2], inputs[1+i*denseParams+5])
	}
	dx, err := G.ApplyOp(bwd, args...)
	if err != nil {
		return nil, err
	}
	grads := make(G.Nodes, len(inputs))
	grads[0] = dx
	if !op.training {
		return grads, nil
	}
	for i := range op.layers {
		for j := range denseParams {
			in := inputs[1+i*denseParams+j]
			pg := &denseParamGradOp{opBase: newOpBase("∂%d.%d %v", i, j, op), bwd: bwd, layer: i, which: j, shape: in.Shape().Clone()}
			if grads[1+i*denseParams+j], err = G.ApplyOp(pg, dx); err != nil {
				return nil, err
			}
		}
	}
	return grads, nil
}

// denseBlockGradOp computes ∂L/∂x of a dense block from (its output, ∂L/∂
// output, each layer's 1×1 and 3×3 weights), layer by layer from the last,
// recomputing each batch norm's output; in training mode the parameters'
// gradients on the side (read by denseParamGradOp). Its output is the first
// C0 channels of d, the gradient with respect to the block buffer, which
// each run rebuilds from ∂L/∂output: whatever a consumer writes there is
// gone by the next run.
type denseBlockGradOp struct {
	opBase
	fwd   *denseBlockOp
	d     scratch
	dx    *tensor.Dense // a view of d
	parts *denseParts   // times the layers' pieces (ProfileOps), nil when off
}

func (op *denseBlockGradOp) Arity() int { return 2 + 2*len(op.fwd.layers) }
func (op *denseBlockGradOp) Type() hm.Type {
	ts := make([]hm.Type, op.Arity()+1)
	for i := range ts {
		ts[i] = tt(4)
	}
	return fnType(ts...)
}
func (op *denseBlockGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	f := op.fwd
	return tensor.Shape{f.c0, f.n, f.h, f.w}, nil
}

func (op *denseBlockGradOp) Do(vs ...G.Value) (G.Value, error) {
	f := op.fwd
	y, per, sh := f32(vs[0]), f.per(), f.sh
	// d holds the gradient of the channels before the last layer's: its
	// own are read from the output's gradient.
	d := op.d.get((f.channels() - f.k) * per)
	t := op.parts.now()
	for i := len(f.layers) - 1; i >= 0; i-- {
		l := f.layers[i]
		w1, w2 := f32(vs[2+2*i]), f32(vs[3+2*i])
		sh.lend(l)
		// src holds ∂L/∂(block buffer) summed over the later layers: the
		// output's gradient itself for the last layer, which writes d[:c]
		// = src[:c] + its input's gradient (so the output's gradient is
		// never copied), then d. Its channels [c, c+k) are complete: only
		// later layers read them.
		src := d
		if i == len(f.layers)-1 {
			src = f32(vs[1])
		}
		dy := src[l.c*per : (l.c+f.k)*per]
		h := l.h[:f.width*per]
		flops2, flops1 := convFLOPs(l.conv2.g, l.conv2.cout), convFLOPs(l.conv1.g, l.conv1.cout)
		// The input gradient first: the weight gradient then takes the
		// blocked dy it left (conv_dnnl.c).
		ds2 := sh.ds2.get(f.width * per)
		l.gi2.backward(w2, dy, ds2)
		t = op.parts.lap(t, "conv2 3×3 bwd-data", flops2, 0)
		if f.training {
			l.dw2 = growFloats(l.dw2, f.k*f.width*9)
			if !l.conv2.takesBN(l.bn2) || !l.gw2.weightGradBN(l.bn2, h, dy, l.dw2) {
				s2 := sh.s2.get(f.width * per)
				l.bn2.reapply(h, s2)
				t = op.parts.lap(t, "bn2 recompute", 0, 8*float64(len(s2)))
				l.gw2.weightGrad(s2, dy, l.dw2)
			}
			t = op.parts.lap(t, "conv2 3×3 bwd-weight", flops2, 0)
		}
		dh := sh.dh.get(f.width * per)
		l.bn2g.backward(h, ds2, dh)
		t = op.parts.lap(t, "bn2 bwd", 0, 4*3*float64(len(dh)))
		x := y[:l.c*per]
		if f.training {
			l.dw1 = growFloats(l.dw1, f.width*l.c)
			l.gw1.weightGradBN(l.bn1, x, dh, l.dw1) // 1×1: always taken
			t = op.parts.lap(t, "bn1 + conv1 1×1 bwd-weight", flops1, 0)
		}
		if !f.training {
			// bn1's input gradient is a·g: added tile by tile as the 1×1
			// convolution's input gradient makes it.
			l.gi1.backwardEvalBNAdd(&l.bn1g, w1, dh, x, src[:l.c*per], d[:l.c*per])
			t = op.parts.lap(t, "conv1 1×1 bwd-data + bn1 bwd (+= d)", flops1, 0)
			continue
		}
		ds1 := sh.s1.get(l.c * per)
		l.gi1.backward(w1, dh, ds1)
		t = op.parts.lap(t, "conv1 1×1 bwd-data", flops1, 0)
		l.bn1g.backwardAdd(x, ds1, src[:l.c*per], d[:l.c*per]) // d = src + ∂L/∂x of this layer
		t = op.parts.lap(t, "bn1 bwd (+= d)", 0, 4*4*float64(len(x)))
	}
	if op.dx == nil || &f32(op.dx)[0] != &d[0] {
		op.dx = tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(f.c0, f.n, f.h, f.w), tensor.WithBacking(d[:f.c0*per]))
	}
	return op.dx, nil
}

// growFloats returns s with length n, reallocated only when its length
// differs.
func growFloats(s []float32, n int) []float32 {
	if len(s) != n {
		s = make([]float32, n)
	}
	return s
}

func (op *denseBlockGradOp) DiffWRT(n int) []bool { return make([]bool, n) }
func (op *denseBlockGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("nets: %v has no second derivative", op)
}

// denseParamGradOp hands out the gradient of one parameter of a dense block
// computed by its denseBlockGradOp, whose output is its (ordering-only)
// input.
type denseParamGradOp struct {
	opBase
	bwd          *denseBlockGradOp
	layer, which int
	shape        tensor.Shape
	out          buffer
}

func (op *denseParamGradOp) Arity() int    { return 1 }
func (op *denseParamGradOp) Type() hm.Type { return fnType(tt(4), tt(op.shape.Dims())) }
func (op *denseParamGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}

func (op *denseParamGradOp) Do(...G.Value) (G.Value, error) {
	l := op.bwd.fwd.layers[op.layer]
	out := op.out.get(op.shape...)
	copy(f32(out), [denseParams][]float32{l.bn1g.dgamma, l.bn1g.dbet, l.dw1, l.bn2g.dgamma, l.bn2g.dbet, l.dw2}[op.which])
	return out, nil
}

func (op *denseParamGradOp) DiffWRT(int) []bool { return []bool{false} }
func (op *denseParamGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("nets: %v has no second derivative", op)
}

// bnStatsBytes is the traffic of bnOp.prepare in a dense block: in training
// mode it reads the n floats of the k new channels (the others' moments are
// the previous layer's); otherwise it reads none.
func bnStatsBytes(bn *bnOp, n int) float64 {
	if bn.training {
		return 4 * float64(n)
	}
	return 0
}

// bnBytes is the traffic of a batch norm's forward pass over n floats:
// read x, write y, and in training mode read x once more for the moments.
func bnBytes(bn *bnOp, n int) float64 {
	if bn.training {
		return 12 * float64(n)
	}
	return 8 * float64(n)
}
