package nets

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Batch normalisation (Ioffe & Szegedy, ICML 2015) fused with the
// activation that follows it (ReLU in most networks here, GELU in airbench).
// Stock gorgonia's BatchNorm has a wrong eval-mode input gradient and resets
// its running statistics on every new machine; this one keeps its statistics
// in a bnState shared by the training and evaluation graphs of a model, with
// PyTorch's conventions: biased variance to normalise, unbiased variance in
// the running estimate, momentum 0.1 and eps 1e-5 unless a layer says
// otherwise. The same op without the normalisation is a per-channel shift
// and activation: the bias and GELU after airbench's whitening layer.

// bnState is one layer's running statistics, shared by every graph of a model.
type bnState struct {
	Mean, Var []float32
	Momentum  float32
	Eps       float32
}

func newBNState(c int) *bnState {
	s := &bnState{Mean: make([]float32, c), Var: make([]float32, c), Momentum: 0.1, Eps: 1e-5}
	for i := range s.Var {
		s.Var[i] = 1
	}
	return s
}

// BNOptions shape a batch-norm layer beyond its input.
type BNOptions struct {
	Act Act
	// FixedScale keeps gamma at its value (ones): a batch norm without a
	// learned scale, as airbench's; gamma gets no gradient.
	FixedScale bool
	// ShiftOnly skips the normalisation: y = act(gamma·x + beta) with no
	// statistics (st may be nil); ShiftRole is the role of its shift.
	ShiftOnly bool
	ShiftRole Role
	// Eps and Momentum, when not zero, replace PyTorch's 1e-5 and 0.1 (the
	// weight of the batch in the running statistics).
	Eps, Momentum float32
}

// BatchNorm normalises x (C, N, H, W) per channel, scales by gamma and
// shifts by beta (both (C)), then applies o's activation. In training mode
// it uses the batch statistics and updates the running ones; otherwise it
// uses the running statistics.
func BatchNorm(x, gamma, beta *G.Node, st *bnState, training bool, o BNOptions) (*G.Node, error) {
	xs := x.Shape()
	if xs.Dims() != 4 || gamma.Shape().TotalSize() != xs[0] || beta.Shape().TotalSize() != xs[0] || (!o.ShiftOnly && len(st.Mean) != xs[0]) {
		return nil, fmt.Errorf("nets: BatchNorm: input %v, gamma %v, beta %v do not match its running statistics", xs, gamma.Shape(), beta.Shape())
	}
	kind := "bn"
	if o.ShiftOnly {
		kind = "shift"
	}
	op := &bnOp{opBase: newOpBase("%s%s%s", kind, o.Act, map[bool]string{false: "/eval"}[training]),
		st: st, training: training, act: o.Act, fixedScale: o.FixedScale, shiftOnly: o.ShiftOnly, shape: xs.Clone()}
	return G.ApplyOp(op, x, gamma, beta)
}

type bnOp struct {
	opBase
	st                    *bnState
	training              bool
	act                   Act
	fixedScale, shiftOnly bool
	shape                 tensor.Shape
	out                   buffer
	// Per channel, from the last forward run: the statistics used to
	// normalise, and the affine map y = a·x + b they give with gamma, beta.
	mean, invstd, a, b []float32
	// moments are the batch moments (mean, biased variance) of each channel
	// of the last training run; reuse, when set, lends them to the next
	// run for its first len(reuse.moments) channels, which the caller
	// guarantees hold the same values as reuse's input did (a dense block's
	// shared buffer: layer l's input is layer l−1's and k more channels).
	moments [][2]float64
	reuse   *bnOp
	// fused: the convolution before applies this evaluation-mode layer to
	// its output chunk by chunk (see fuseConvBN); Do passes its input
	// through.
	fused bool
}

func (op *bnOp) Arity() int    { return 3 }
func (op *bnOp) Type() hm.Type { return fnType(tt(4), tt(1), tt(1), tt(4)) }
func (op *bnOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}

// bnAffine is the per-channel map y = a·x + b that normalising with mean
// and variance and then scaling by gamma and shifting by beta amounts to.
func bnAffine(mean, variance float64, eps, gamma, beta float32) (invstd, a, b float32) {
	invstd = float32(1 / math.Sqrt(variance+float64(eps)))
	a = gamma * invstd
	return invstd, a, beta - a*float32(mean)
}

func (op *bnOp) Do(vs ...G.Value) (G.Value, error) {
	if op.fused {
		// The convolution before has already applied this layer.
		return vs[0], nil
	}
	out := op.out.get(op.shape...)
	op.forward(f32(vs[0]), f32(vs[1]), f32(vs[2]), f32(out))
	return out, nil
}

// forward normalises x into y, keeping the statistics it used (and, in
// training mode, updating the running ones).
func (op *bnOp) forward(x, gamma, beta, y []float32) { op.run(x, gamma, beta, y) }

// prepare is forward without the output: the statistics and the affine map
// (for a consumer that applies it itself, convOp.forwardBN, or reapply).
func (op *bnOp) prepare(x, gamma, beta []float32) { op.run(x, gamma, beta, nil) }

func (op *bnOp) run(x, gamma, beta, y []float32) {
	c := op.shape[0]
	m := len(x) / c
	if op.mean == nil {
		op.mean, op.invstd = make([]float32, c), make([]float32, c)
		op.a, op.b = make([]float32, c), make([]float32, c)
		op.moments = make([][2]float64, c)
	}
	st := op.st
	// Without an output, the channels whose moments reuse lends cost
	// nothing: the workers split the others (a dense layer's k new ones).
	lent := 0
	if op.training && op.reuse != nil && y == nil {
		lent = min(len(op.reuse.moments), c)
	}
	work := func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			row := x[ch*m : (ch+1)*m]
			switch {
			case op.shiftOnly:
				op.mean[ch], op.invstd[ch], op.a[ch], op.b[ch] = 0, 1, gamma[ch], beta[ch]
			case op.training:
				var mean, variance float64
				if op.reuse != nil && ch < len(op.reuse.moments) {
					mean, variance = op.reuse.moments[ch][0], op.reuse.moments[ch][1]
				} else {
					mean, variance = moments(row)
				}
				op.moments[ch] = [2]float64{mean, variance}
				unbiased := variance
				if m > 1 {
					unbiased = variance * float64(m) / float64(m-1)
				}
				st.Mean[ch] = (1-st.Momentum)*st.Mean[ch] + st.Momentum*float32(mean)
				st.Var[ch] = (1-st.Momentum)*st.Var[ch] + st.Momentum*float32(unbiased)
				op.mean[ch] = float32(mean)
				op.invstd[ch], op.a[ch], op.b[ch] = bnAffine(mean, variance, st.Eps, gamma[ch], beta[ch])
			default:
				mean, variance := float64(st.Mean[ch]), float64(st.Var[ch])
				op.mean[ch] = float32(mean)
				op.invstd[ch], op.a[ch], op.b[ch] = bnAffine(mean, variance, st.Eps, gamma[ch], beta[ch])
			}
			if y != nil {
				scaleShift(row, y[ch*m:(ch+1)*m], op.a[ch], op.b[ch], op.act)
			}
		}
	}
	work(0, lent)
	parallel(c-lent, func(_, lo, hi int) { work(lent+lo, lent+hi) })
}

// channelMap is the per-channel map the last forward run applied (a, b
// and the activation), as the kernels that apply a batch norm while they
// read their input take it; none (nil a) for a nil op.
func (op *bnOp) channelMap() (a, b []float32, act Act) {
	if op == nil {
		return nil, nil, ActNone
	}
	return op.a, op.b, op.act
}

// reapply writes into y the output the last forward run gave for x: the
// recomputation of a memory-efficient dense block (op_dense.go).
func (op *bnOp) reapply(x, y []float32) {
	m := len(x) / op.shape[0]
	parallel(op.shape[0], func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			scaleShift(x[ch*m:(ch+1)*m], y[ch*m:(ch+1)*m], op.a[ch], op.b[ch], op.act)
		}
	})
}

// applyCols is reapply on columns [p0, p1) of x, whose channel rows are ld
// apart, writing them into tile with rows p1 − p0 apart: a 1×1
// convolution's input tile (convOp.forwardBN, weightGradBN).
func (op *bnOp) applyCols(x []float32, ld, p0, p1 int, tile []float32) {
	n := p1 - p0
	for ch := range op.a {
		scaleShift(x[ch*ld+p0:ch*ld+p1], tile[ch*n:(ch+1)*n], op.a[ch], op.b[ch], op.act)
	}
}

func (op *bnOp) DiffWRT(int) []bool {
	return []bool{true, op.training && !op.fixedScale, op.training}
}

func (op *bnOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	bwd := &bnGradOp{opBase: newOpBase("∂ %v", op), fwd: op}
	dx, err := G.ApplyOp(bwd, inputs[0], inputs[1], inputs[2], grad)
	if err != nil {
		return nil, err
	}
	if !op.training {
		return G.Nodes{dx, nil, nil}, nil
	}
	var dgamma *G.Node
	if !op.fixedScale {
		if dgamma, err = G.ApplyOp(&bnParamGradOp{opBase: newOpBase("∂γ %v", op), bwd: bwd, gamma: true}, dx); err != nil {
			return nil, err
		}
	}
	dbeta, err := G.ApplyOp(&bnParamGradOp{opBase: newOpBase("∂β %v", op), bwd: bwd}, dx)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dgamma, dbeta}, nil
}

// bnGradOp computes ∂L/∂x from (x, gamma, beta, ∂L/∂y) with the statistics of
// the forward run, and ∂L/∂gamma, ∂L/∂beta on the side (read by
// bnParamGradOp). In evaluation mode, and without normalisation, the
// statistics are constants and ∂L/∂x = a·g, where g is ∂L/∂y times the
// activation's derivative.
type bnGradOp struct {
	opBase
	fwd          *bnOp
	out          buffer
	dgamma, dbet []float32
}

func (op *bnGradOp) Arity() int    { return 4 }
func (op *bnGradOp) Type() hm.Type { return fnType(tt(4), tt(1), tt(1), tt(4), tt(4)) }
func (op *bnGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.fwd.shape.Clone(), nil
}

func (op *bnGradOp) Do(vs ...G.Value) (G.Value, error) {
	out := op.out.get(op.fwd.shape...)
	op.backward(f32(vs[0]), f32(vs[3]), f32(out))
	return out, nil
}

// backward writes ∂L/∂x into dx from x and dy = ∂L/∂y (and ∂L/∂gamma,
// ∂L/∂beta into dgamma, dbet in training mode).
func (op *bnGradOp) backward(x, dy, dx []float32) {
	op.run(x, dy, dx, func(_ int, x, dy, dx []float32, mean, invstd, a, b, k, c1, c2 float32, act Act) {
		bnGradInput(x, dy, dx, mean, invstd, a, b, k, c1, c2, act)
	})
}

// backwardAdd is backward writing src + ∂L/∂x into dst (src may be dst): a
// dense block sums its layers' input gradients so, without a pass over dx
// in memory, and starts the sum from its output's gradient without
// copying it.
func (op *bnGradOp) backwardAdd(x, dy, src, dst []float32) {
	m := len(x) / op.fwd.shape[0]
	op.run(x, dy, dst, func(ch int, x, dy, dx []float32, mean, invstd, a, b, k, c1, c2 float32, act Act) {
		bnGradInputAdd(x, dy, src[ch*m:(ch+1)*m], dx, mean, invstd, a, b, k, c1, c2, act)
	})
}

// addEvalInput writes into dst src plus the input gradient of channel ch
// of an evaluation-mode batch norm at x (a stretch of the channel's row)
// for dy: a·g, what run computes for such a layer.
func (op *bnGradOp) addEvalInput(ch int, x, dy, src, dst []float32) {
	f := op.fwd
	bnGradInputAdd(x, dy, src, dst, f.mean[ch], f.invstd[ch], f.a[ch], f.b[ch], f.a[ch], 0, 0, f.act)
}

// run computes the statistics' gradients and hands each channel's input
// gradient to input (with the channel's index): bnGradInput, which writes
// it, or bnGradInputAdd.
func (op *bnGradOp) run(x, dy, dx []float32, input func(ch int, x, dy, dx []float32, mean, invstd, a, b, k, c1, c2 float32, act Act)) {
	f := op.fwd
	c := f.shape[0]
	m := len(x) / c
	if op.dgamma == nil {
		op.dgamma, op.dbet = make([]float32, c), make([]float32, c)
	}
	parallel(c, func(_, lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			row, drow, dxrow := x[ch*m:(ch+1)*m], dy[ch*m:(ch+1)*m], dx[ch*m:(ch+1)*m]
			mean, invstd, a, b := f.mean[ch], f.invstd[ch], f.a[ch], f.b[ch]
			if !f.training || f.shiftOnly {
				if f.training { // a shift layer's parameters
					sumG, sumGX := bnGradSums(row, drow, mean, invstd, a, b, f.act)
					op.dbet[ch], op.dgamma[ch] = float32(sumG), float32(sumGX)
				}
				// x̂ terms vanish: dx = a·g.
				input(ch, row, drow, dxrow, mean, invstd, a, b, a, 0, 0, f.act)
				continue
			}
			sumG, sumGX := bnGradSums(row, drow, mean, invstd, a, b, f.act)
			op.dbet[ch], op.dgamma[ch] = float32(sumG), float32(sumGX)
			// dx = a·(g − Σg/m − x̂·Σg·x̂/m)
			input(ch, row, drow, dxrow, mean, invstd, a, b, a, float32(sumG/float64(m)), float32(sumGX/float64(m)), f.act)
		}
	})
}

func (op *bnGradOp) DiffWRT(int) []bool { return []bool{false, false, false, false} }
func (op *bnGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("nets: %v has no second derivative", op)
}

// bnParamGradOp hands out ∂L/∂gamma or ∂L/∂beta computed by its bnGradOp,
// whose output is its (ordering-only) input.
type bnParamGradOp struct {
	opBase
	bwd   *bnGradOp
	gamma bool
	out   buffer
}

func (op *bnParamGradOp) Arity() int    { return 1 }
func (op *bnParamGradOp) Type() hm.Type { return fnType(tt(4), tt(1)) }
func (op *bnParamGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.bwd.fwd.shape[0]}, nil
}

func (op *bnParamGradOp) Do(...G.Value) (G.Value, error) {
	out := op.out.get(op.bwd.fwd.shape[0])
	src := op.bwd.dbet
	if op.gamma {
		src = op.bwd.dgamma
	}
	copy(f32(out), src)
	return out, nil
}

func (op *bnParamGradOp) DiffWRT(int) []bool { return []bool{false} }
func (op *bnParamGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("nets: %v has no second derivative", op)
}
