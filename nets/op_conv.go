package nets

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// colBudget bounds the column matrix a worker builds at once (floats), so
// that im2col + GEMM stay in the L2 cache (1 MB per core here); minCols
// keeps each GEMM wide enough to amortise OpenBLAS's per-call overhead.
// The weight gradient sums its chunks' GEMMs and shares the forward pass's
// chunks (and kept columns), so in training graphs the chunk size is part
// of the arithmetic: trainMinCols stays fixed so that training results do
// not change with the tuning of evalMinCols (chunks of an evaluation pass
// or of the input gradient are independent columns, the same floats at any
// size).
const (
	colBudget    = 1 << 17
	evalMinCols  = 256
	trainMinCols = 512
)

// chunkImages is how many images of g go into one column-matrix chunk of at
// least min columns.
func chunkImages(g geom, min int) int {
	return max(colBudget/(g.K*g.Pix), (min+g.Pix-1)/g.Pix, 1)
}

// convOp is a 2-D convolution without bias on (C, N, H, W) activations with
// weights (Cout, Cin, KH, KW): im2col per chunk of images and one sgemm per
// chunk, images split over the workers.
type convOp struct {
	opBase
	g    geom
	cout int
	out  buffer
	cols []scratch // one per worker
	// keep makes the forward pass build the column matrix of the whole batch
	// at once and keep it for the weight gradient, which then skips its own
	// im2col (training graphs, when it fits the budget).
	keep  bool
	whole scratch
	// training marks a convolution of a training graph: its chunks are
	// trainMinCols wide (see minCols) and it never convolves directly.
	training bool
	// post, in evaluation graphs, is the batch norm (+ ReLU) fused into
	// this convolution by fuseConvBN.
	post *convPost
	dn   *dnnlConv // the oneDNN primitives of all three passes, when convolutions run there
	// packedW is the weights packed for pointwisePacked's GEMM.
	packedW scratch
	// x is the input node; noInputGrad (skipUnusedInputGrads) leaves its
	// gradient out of the backward pass.
	x           *G.Node
	noInputGrad bool
	// noWeightGrad (skipParamGrads) leaves the weights' gradient out: an
	// input-gradient pass reads none.
	noWeightGrad bool
}

// convPost is an evaluation-mode batch norm applied by a convolution.
type convPost struct {
	bn          *bnOp
	gamma, beta *G.Node
	a, b        []float32
}

// affine computes the batch norm's per-channel map from its running
// statistics, exactly as bnOp does.
func (p *convPost) affine() {
	gamma, beta, st := f32(p.gamma.Value()), f32(p.beta.Value()), p.bn.st
	if p.a == nil {
		p.a, p.b = make([]float32, len(gamma)), make([]float32, len(gamma))
	}
	for ch := range gamma {
		_, p.a[ch], p.b[ch] = bnAffine(float64(st.Mean[ch]), float64(st.Var[ch]), st.Eps, gamma[ch], beta[ch])
	}
}

// apply maps columns [c0, c1) of every output channel of y (rows ld apart).
func (p *convPost) apply(y []float32, ld, c0, c1 int) {
	for ch := range p.a {
		row := y[ch*ld+c0 : ch*ld+c1]
		scaleShift(row, row, p.a[ch], p.b[ch], p.bn.act)
	}
}

// Conv2D convolves x (C, N, H, W) with w (Cout, C, KH, KW) at the given stride
// and zero padding.
func Conv2D(x, w *G.Node, stride, pad int) (*G.Node, error) {
	return conv2D(x, w, stride, pad, nil)
}

// colCache hands out the budget (in floats) for convolutions that keep their
// column matrix between the forward pass and the weight gradient.
type colCache struct{ left int }

func (c *colCache) take(n int) bool {
	if c == nil || n > c.left {
		return false
	}
	c.left -= n
	return true
}

func conv2D(x, w *G.Node, stride, pad int, cache *colCache) (*G.Node, error) {
	xs, ws := x.Shape(), w.Shape()
	if xs.Dims() != 4 || ws.Dims() != 4 || ws[1] != xs[0] {
		return nil, fmt.Errorf("nets: Conv2D: input %v (C,N,H,W) and weight %v (Cout,C,KH,KW) do not match", xs, ws)
	}
	g := newGeom(xs[0], xs[1], xs[2], xs[3], ws[2], ws[3], stride, pad)
	if g.OH < 1 || g.OW < 1 {
		return nil, fmt.Errorf("nets: Conv2D: kernel %dx%d stride %d pad %d leaves no output on %dx%d", ws[2], ws[3], stride, pad, xs[2], xs[3])
	}
	op := &convOp{opBase: newOpBase("conv%dx%d/s%dp%d", g.KH, g.KW, stride, pad), g: g, cout: ws[0], training: cache != nil, x: x}
	op.keep = !g.pointwise() && cache.take(g.K*g.N*g.Pix)
	return G.ApplyOp(op, x, w)
}

// pointwiseTile is how many columns (pixels) a 1×1 convolution multiplies
// per GEMM: a multiple of 64 keeping c rows within colBudget. On the BLAS
// the tiles are part of the arithmetic (a GEMM may round a column
// differently at another width: OpenBLAS's AVX2 kernels do), so a
// convolution that makes its input tile by tile (forwardBN, weightGradBN)
// computes the same floats as one reading it whole; the packed GEMM's
// floats depend on no tile.
func pointwiseTile(c int) int { return max(64, pointwiseBudget/c/64*64) }

// pointwisePacked is the packed GEMM (packedKernels) where 1×1
// convolutions run all three passes on it: the AVX2 and AVX-512 kernel
// levels of the cgo build (BenchmarkPackedPointwise and
// BenchmarkPackedWeightGrad1x1 time it against the BLAS; with the weight
// gradient moved from oneDNN's sgemm to it, DenseNet-BC-100 trained 1.13× as
// fast on AVX-512, pooling's change included). Elsewhere they run on the
// BLAS.
func pointwisePacked() *packedKernels {
	if kernelLevel == "avx2" || kernelLevel == "avx512" {
		return packedGEMM
	}
	return nil
}

// packed3x3 is the packed GEMM's kernels where a 3×3, stride-1, padding-1
// convolution with cout outputs runs its passes on them instead of oneDNN
// (the weight gradient where the width suits them): where pointwisePacked
// holds and cout is not a multiple of the channel block oneDNN computes in
// (16 floats on AVX-512, 8 on AVX2), which would pad the outputs and
// multiply the padding — DenseNet-BC's 12.
func packed3x3(g geom, cout int) *packedKernels {
	pk := pointwisePacked()
	if pk == nil || !convOnDNNL() || g.KH != 3 || g.KW != 3 || g.Stride != 1 || g.Pad != 1 {
		return nil
	}
	block := 8
	if kernelLevel == "avx512" {
		block = 16
	}
	if cout%block == 0 {
		return nil
	}
	return pk
}

// pointwiseBudget is colBudget; tests shrink it to run many tiles.
var pointwiseBudget = colBudget

// forwardBN is forward for a convolution of bn's output on x, with bn's
// statistics prepared (bnOp.prepare), where takesBN holds: each tile of the
// normalised input (a 1×1 convolution's columns, a 3×3 one's padded
// planes) is made in cache and multiplied at once, so it never goes to
// memory — the same floats as bn.forward into a buffer, then forward on it.
func (op *convOp) forwardBN(bn *bnOp, x, w, y []float32) {
	if op.post != nil {
		op.post.affine()
	}
	if op.g.pointwise() {
		op.pointwise(bn, x, w, y)
		return
	}
	op.packed3x3(packed3x3(op.g, op.cout), bn, x, w, y)
}

// takesBN reports whether forwardBN and weightGradBN run for this
// convolution of bn's output: 1×1 ones, and 3×3 ones on the packed GEMM's
// kernels unless bn's activation is GELU, whose vectorised polynomial
// rounds otherwise in the scalar tail of a plane's rows.
func (op *convOp) takesBN(bn *bnOp) bool {
	return op.g.pointwise() || (packed3x3(op.g, op.cout) != nil && !op.direct() && bn.act != ActGELU)
}

// direct reports whether forward runs on conv3x3Direct: the evaluation
// graph's first layers, which it suits.
func (op *convOp) direct() bool {
	var act Act
	if op.post != nil {
		act = op.post.bn.act
	}
	return !op.training && useDirect(op.g, op.cout, act)
}

// pointwise computes y = w·x, or w·bn(x), tile by tile (pointwiseTile),
// the images split over the workers, then applies post. Each tile of the
// input is copied (or normalised) into contiguous scratch first: read in
// place, its rows N·H·W floats apart alias in the caches, and a GEMM on it
// runs at under half the rate (the transitions of DenseNet-BC-100, oneDNN's
// sgemm: 30 against 11 ms). On the packed GEMM, y goes past the caches
// unless post reads it back at once (packedKernels.gemm's stream).
func (op *convOp) pointwise(bn *bnOp, x, w, y []float32) {
	g := op.g
	ld := g.N * g.Pix
	op.cols = growScratch(op.cols)
	if pk := pointwisePacked(); pk != nil {
		ap := op.packedW.get(pk.sizeA(op.cout, g.C))
		pk.packA(w, op.cout, g.C, false, ap)
		a, b, act := bn.channelMap()
		parallel(g.N, func(wk, lo, hi int) {
			eachTile(g, lo, hi, func(p0, p1 int) {
				bp := op.cols[wk].get(pk.sizeB(p1-p0, g.C))
				pk.packB(x, ld, g.C, p0, p1, a, b, act, bp)
				pk.gemm(ap, bp, op.cout, p1-p0, g.C, y[p0:], ld, op.post == nil)
				if op.post != nil {
					op.post.apply(y, ld, p0, p1)
				}
			})
		})
		return
	}
	parallel(g.N, func(wk, lo, hi int) {
		eachTile(g, lo, hi, func(p0, p1 int) {
			in, ldin := op.cols[wk].get(g.C*(p1-p0)), p1-p0
			if bn != nil {
				bn.applyCols(x, ld, p0, p1, in)
			} else {
				for ch := range g.C {
					copy(in[ch*ldin:(ch+1)*ldin], x[ch*ld+p0:ch*ld+p1])
				}
			}
			sgemm(false, false, op.cout, p1-p0, g.K, 1, w, g.K, in, ldin, 0, y[p0:], ld)
			if op.post != nil {
				op.post.apply(y, ld, p0, p1)
			}
		})
	})
}

// eachTile calls fn with the column tiles [p0, p1) (pointwiseTile) of
// images [lo, hi) of g, in order.
func eachTile(g geom, lo, hi int, fn func(p0, p1 int)) {
	tile := pointwiseTile(g.C)
	for p0 := lo * g.Pix; p0 < hi*g.Pix; p0 += tile {
		fn(p0, min(p0+tile, hi*g.Pix))
	}
}

// packed3x3 is forward on the packed GEMM's kernels (packed3x3), of bn's
// output on x when bn is not nil (forwardBN).
func (op *convOp) packed3x3(pk *packedKernels, bn *bnOp, x, w, y []float32) {
	g := op.g
	ldy := g.N * g.Pix
	op.dn.forget() // what oneDNN kept of an earlier x is not of this one
	ap := op.packedW.get(pk.sizeA(op.cout, g.K))
	pk.packA(w, op.cout, g.K, false, ap)
	a, b, act := bn.channelMap()
	parallel(g.N, func(_, lo, hi int) {
		pk.conv3x3(x, a, b, act, ap, g, op.cout, lo, hi, y, ldy)
		if op.post != nil {
			op.post.apply(y, ldy, lo*g.Pix, hi*g.Pix)
		}
	})
}

// minCols is the least chunk width of the forward pass.
func (op *convOp) minCols() int {
	if op.training {
		return trainMinCols
	}
	return evalMinCols
}

func (op *convOp) Arity() int      { return 2 }
func (op *convOp) Type() hm.Type   { return fnType(tt(4), tt(4), tt(4)) }
func (op *convOp) outShape() []int { return []int{op.cout, op.g.N, op.g.OH, op.g.OW} }
func (op *convOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape(op.outShape()), nil
}

func (op *convOp) Do(vs ...G.Value) (G.Value, error) {
	out := op.out.get(op.outShape()...)
	op.forward(f32(vs[0]), f32(vs[1]), f32(out))
	return out, nil
}

// forward convolves x with w into y (Cout, N, OH, OW).
func (op *convOp) forward(x, w, y []float32) {
	g := op.g
	ldy := g.N * g.Pix
	if op.post != nil {
		op.post.affine()
	}
	if g.pointwise() {
		op.pointwise(nil, x, w, y)
		return
	}
	direct := op.direct()
	if pk := packed3x3(g, op.cout); pk != nil && !direct {
		op.packed3x3(pk, nil, x, w, y)
		return
	}
	if !direct && op.onDNNL(passForward, x, w, y) {
		if op.post != nil {
			parallel(g.N, func(_, lo, hi int) { op.post.apply(y, ldy, lo*g.Pix, hi*g.Pix) })
		}
		return
	}
	if direct {
		var a, b []float32
		var act Act
		if op.post != nil {
			a, b, act = op.post.a, op.post.b, op.post.bn.act
		}
		parallel(g.N, func(_, lo, hi int) {
			conv3x3Direct(x, w, g, op.cout, lo, hi, y, ldy, a, b, act)
		})
		return
	}
	op.cols = growScratch(op.cols)
	var whole []float32
	if op.keep {
		whole = op.whole.get(g.K * g.N * g.Pix)
	}
	step := chunkImages(g, op.minCols())
	parallel(g.N, func(wk, lo, hi int) {
		for n0 := lo; n0 < hi; n0 += step {
			n1 := min(n0+step, hi)
			var col []float32
			if op.keep {
				// The chunk's columns stay at whole[K·n0·Pix:] for the weight
				// gradient; chunks keep them cache-sized while the GEMM reads them.
				col = whole[g.K*n0*g.Pix : g.K*n1*g.Pix]
			} else {
				col = op.cols[wk].get(g.K * (n1 - n0) * g.Pix)
			}
			im2col(x, g, n0, n1, col)
			sgemm(false, false, op.cout, (n1-n0)*g.Pix, g.K, 1, w, g.K, col, (n1-n0)*g.Pix, 0, y[n0*g.Pix:], ldy)
			if op.post != nil {
				op.post.apply(y, ldy, n0*g.Pix, n1*g.Pix)
			}
		}
	})
}

func (op *convOp) DiffWRT(int) []bool { return []bool{!op.noInputGrad, !op.noWeightGrad} }

func (op *convOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	x, w := inputs[0], inputs[1]
	var dx *G.Node
	if !op.noInputGrad {
		var err error
		if dx, err = G.ApplyOp(&convGradInputOp{opBase: newOpBase("∂x %v", op), fwd: op, g: op.g, cout: op.cout}, w, grad); err != nil {
			return nil, err
		}
	}
	if op.noWeightGrad {
		return G.Nodes{dx, nil}, nil
	}
	dw, err := G.ApplyOp(&convGradWeightOp{opBase: newOpBase("∂w %v", op), fwd: op, g: op.g, cout: op.cout}, x, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw}, nil
}

// skipParamGrads marks the convolutions and linear layers of eg to leave
// their parameters' gradients out of the backward pass: gorgonia
// differentiates every input of an op on the way to the one asked for, so
// an input-gradient pass (ODIN's perturbation) would otherwise compute
// every weight gradient, which nothing reads. (Dense blocks outside
// training already leave theirs out.)
func skipParamGrads(eg *G.ExprGraph) {
	for _, n := range eg.AllNodes() {
		switch op := n.Op().(type) {
		case *convOp:
			op.noWeightGrad = true
		case *linearOp:
			op.noParamGrads = true
		}
	}
}

// skipUnusedInputGrads marks the convolutions of eg whose input depends on
// none of wrt, such as the first layer's, which reads the images: gorgonia
// differentiates every input of an op on the way to wrt, so differentiating a
// training loss would otherwise compute their input gradients, which nothing
// reads.
func skipUnusedInputGrads(eg *G.ExprGraph, wrt G.Nodes) {
	dep := make(map[*G.Node]bool, len(wrt))
	for _, n := range wrt {
		dep[n] = true
	}
	var depends func(n *G.Node) bool
	depends = func(n *G.Node) bool {
		if d, ok := dep[n]; ok {
			return d
		}
		dep[n] = false
		for it := eg.From(n.ID()); it.Next(); {
			if depends(it.Node().(*G.Node)) {
				dep[n] = true
				break
			}
		}
		return dep[n]
	}
	for _, n := range eg.AllNodes() {
		if op, ok := n.Op().(*convOp); ok {
			op.noInputGrad = !depends(op.x)
		}
	}
}

// growScratch makes sure there is one scratch slot per worker.
func growScratch(s []scratch) []scratch {
	for len(s) < Threads() {
		s = append(s, nil)
	}
	return s
}

// convGradInputOp computes ∂L/∂x of a convolution from (w, ∂L/∂y).
type convGradInputOp struct {
	opBase
	fwd  *convOp
	g    geom
	cout int
	out  buffer
	cols []scratch
	// turned and packedW are the weights made for the packed GEMM (packed3x3,
	// pointwise); tiles hold pointwise's tiles of wᵀ·dy.
	turned, packedW scratch
	tiles           []scratch
}

func (op *convGradInputOp) Arity() int    { return 2 }
func (op *convGradInputOp) Type() hm.Type { return fnType(tt(4), tt(4), tt(4)) }
func (op *convGradInputOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.g.C, op.g.N, op.g.H, op.g.W}, nil
}

func (op *convGradInputOp) Do(vs ...G.Value) (G.Value, error) {
	g := op.g
	out := op.out.get(g.C, g.N, g.H, g.W)
	op.backward(f32(vs[0]), f32(vs[1]), f32(out))
	return out, nil
}

// backward writes ∂L/∂x into dx from w and dy = ∂L/∂y.
func (op *convGradInputOp) backward(w, dy, dx []float32) {
	g := op.g
	ldy := g.N * g.Pix
	if g.pointwise() {
		op.pointwise(w, dy, dx, nil, nil, nil)
		return
	}
	if pk := packed3x3(g, op.cout); pk != nil {
		op.packed3x3(pk, w, dy, dx)
		return
	}
	if op.fwd.onDNNL(passBackwardData, w, dy, dx) {
		return
	}
	op.cols = growScratch(op.cols)
	step := chunkImages(g, evalMinCols)
	plane := g.H * g.W
	parallel(g.N, func(wk, lo, hi int) {
		for c := 0; c < g.C; c++ {
			zero(dx[(c*g.N+lo)*plane : (c*g.N+hi)*plane])
		}
		for n0 := lo; n0 < hi; n0 += step {
			n1 := min(n0+step, hi)
			cols := (n1 - n0) * g.Pix
			col := op.cols[wk].get(g.K * cols)
			sgemm(true, false, g.K, cols, op.cout, 1, w, g.K, dy[n0*g.Pix:], ldy, 0, col, cols)
			col2im(col, g, n0, n1, dx)
		}
	})
}

// packed3x3 is backward on the packed GEMM (packed3x3): the input gradient
// of a 3×3, stride-1, padding-1 convolution is the same convolution of dy
// with the weights' channels swapped and their taps turned by 180°.
func (op *convGradInputOp) packed3x3(pk *packedKernels, w, dy, dx []float32) {
	g := op.g
	op.fwd.dn.forget() // oneDNN's blocked dy, if any, is not of this dy
	k := 9 * op.cout
	wt := op.turned.get(g.C * k)
	for co := range op.cout {
		for ci := range g.C {
			for t := range 9 {
				wt[ci*k+co*9+8-t] = w[(co*g.C+ci)*9+t]
			}
		}
	}
	ap := op.packedW.get(pk.sizeA(g.C, k))
	pk.packA(wt, g.C, k, false, ap)
	gt := newGeom(op.cout, g.N, g.H, g.W, 3, 3, 1, 1)
	parallel(g.N, func(_, lo, hi int) { pk.conv3x3(dy, nil, nil, ActNone, ap, gt, g.C, lo, hi, dx, g.N*g.Pix) })
}

// backwardEvalBNAdd is, for a 1×1 convolution of the evaluation-mode batch
// norm bn's output on x, backward followed by bn's input gradient added to
// src into dst (src may be dst): that gradient is elementwise in
// evaluation mode (a·g, no batch sums), so each tile of ∂L/∂(bn output) is
// consumed in cache and never goes to memory — the same floats as backward
// into a buffer, then bnGradOp.backwardAdd (an ODIN input-gradient pass
// through a dense block).
func (op *convGradInputOp) backwardEvalBNAdd(bn *bnGradOp, w, dy, x, src, dst []float32) {
	if bn.fwd.training {
		panic("nets: backwardEvalBNAdd with a training-mode batch norm")
	}
	op.pointwise(w, dy, dst, bn, x, src)
}

// pointwise computes a 1×1 convolution's input gradient wᵀ·dy into dx tile
// by tile (pointwiseTile), the images split over the workers; with bn, it
// writes src plus bn's evaluation-mode input gradient at x into dx
// instead. On the packed GEMM, dx goes past the caches (packedKernels.gemm's
// stream): in a dense block it has the C rows of the layer's input, far
// more than the caches hold, and writing it so took the AVX2 training
// step's bwd-data from 15.0–15.5% to 11.0–11.5% of the step (bn1's
// backward, reading it back from memory, from 10.8–12.0% to 12.3–13.4%).
func (op *convGradInputOp) pointwise(w, dy, dx []float32, bn *bnGradOp, x, src []float32) {
	g := op.g
	ld := g.N * g.Pix
	op.cols, op.tiles = growScratch(op.cols), growScratch(op.tiles)
	pk := pointwisePacked()
	var ap []float32
	if pk != nil {
		ap = op.packedW.get(pk.sizeA(g.C, op.cout))
		pk.packA(w, g.C, op.cout, true, ap)
	}
	// into computes wᵀ·dy for columns [p0, p1) into out (rows ldo apart).
	into := func(wk, p0, p1 int, out []float32, ldo int, stream bool) {
		if pk == nil {
			sgemm(true, false, g.K, p1-p0, op.cout, 1, w, g.K, dy[p0:], ld, 0, out, ldo)
			return
		}
		bp := op.cols[wk].get(pk.sizeB(p1-p0, op.cout))
		pk.packB(dy, ld, op.cout, p0, p1, nil, nil, ActNone, bp)
		pk.gemm(ap, bp, g.C, p1-p0, op.cout, out, ldo, stream)
	}
	parallel(g.N, func(wk, lo, hi int) {
		eachTile(g, lo, hi, func(p0, p1 int) {
			if bn == nil {
				into(wk, p0, p1, dx[p0:], ld, true)
				return
			}
			cols := p1 - p0
			t := op.tiles[wk].get(g.C * cols)
			into(wk, p0, p1, t, cols, false)
			for ch := range g.C {
				bn.addEvalInput(ch, x[ch*ld+p0:ch*ld+p1], t[ch*cols:(ch+1)*cols], src[ch*ld+p0:ch*ld+p1], dx[ch*ld+p0:ch*ld+p1])
			}
		})
	})
}

func (op *convGradInputOp) DiffWRT(int) []bool { return []bool{false, false} }
func (op *convGradInputOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("nets: %v has no second derivative", op)
}

// convGradWeightOp computes ∂L/∂w of a convolution from (x, ∂L/∂y): each
// worker sums its images' contribution, then the partial sums are added.
type convGradWeightOp struct {
	opBase
	fwd      *convOp
	g        geom
	cout     int
	out      buffer
	cols     []scratch
	partials []scratch
}

func (op *convGradWeightOp) Arity() int    { return 2 }
func (op *convGradWeightOp) Type() hm.Type { return fnType(tt(4), tt(4), tt(4)) }
func (op *convGradWeightOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.cout, op.g.C, op.g.KH, op.g.KW}, nil
}

func (op *convGradWeightOp) Do(vs ...G.Value) (G.Value, error) {
	g := op.g
	out := op.out.get(op.cout, g.C, g.KH, g.KW)
	op.weightGrad(f32(vs[0]), f32(vs[1]), f32(out))
	return out, nil
}

// weightGrad writes ∂L/∂w into dw from x and dy = ∂L/∂y.
func (op *convGradWeightOp) weightGrad(x, dy, dw []float32) {
	if op.g.pointwise() {
		op.pointwise(nil, x, dy, dw)
		return
	}
	g := op.g
	ldy := g.N * g.Pix
	if pk := packed3x3(g, op.cout); pk != nil && op.packed3x3(pk, nil, x, dy, dw) {
		return
	}
	if op.fwd.onDNNL(passBackwardWeights, x, dy, dw) {
		return
	}
	op.cols = growScratch(op.cols)
	step := chunkImages(g, op.fwd.minCols()) // the forward pass's chunks, which keep may have stored
	op.perWorker(dw, func(wk, lo, hi int, acc []float32) {
		var beta float32
		for n0 := lo; n0 < hi; n0 += step {
			n1 := min(n0+step, hi)
			cols := (n1 - n0) * g.Pix
			var col []float32
			if op.fwd.keep {
				// The forward pass of this run left these columns here.
				col = op.fwd.whole[g.K*n0*g.Pix : g.K*n1*g.Pix]
			} else {
				col = op.cols[wk].get(g.K * cols)
				im2col(x, g, n0, n1, col)
			}
			sgemm(false, true, op.cout, g.K, cols, 1, dy[n0*g.Pix:], ldy, col, cols, beta, acc, g.K)
			beta = 1
		}
	})
}

// packed3x3 is weightGrad on the packed GEMM's kernels (packed3x3), of
// bn's output on x when bn is not nil, each worker's images summed apart
// and added in worker order; it reports false, having written nothing, for
// a width they do not handle.
func (op *convGradWeightOp) packed3x3(pk *packedKernels, bn *bnOp, x, dy, dw []float32) bool {
	g := op.g
	a, b, act := bn.channelMap()
	if !pk.weightGrad3x3(x, a, b, act, dy, g, op.cout, 0, 0, dw) { // no images: only asks about the width
		return false
	}
	op.fwd.dn.forget()
	op.perWorker(dw, func(_, lo, hi int, acc []float32) { pk.weightGrad3x3(x, a, b, act, dy, g, op.cout, lo, hi, acc) })
	return true
}

// perWorker runs fn on each worker's images with its accumulator (dw for
// the first worker, a partial sum for the others), then adds the partial
// sums into dw in worker order.
func (op *convGradWeightOp) perWorker(dw []float32, fn func(wk, lo, hi int, acc []float32)) {
	op.partials = growScratch(op.partials)
	workers := min(Threads(), op.g.N)
	parallelN(workers, op.g.N, func(wk, lo, hi int) {
		acc := dw
		if wk > 0 {
			acc = op.partials[wk].get(len(dw))
		}
		fn(wk, lo, hi, acc)
	})
	for wk := 1; wk < workers; wk++ {
		p := op.partials[wk][:len(dw)]
		for i := range dw {
			dw[i] += p[i]
		}
	}
}

// weightGradBN is weightGrad for a convolution of bn's output on x (bn as
// its last forward run left it), where the forward op's takesBN holds: each
// tile of the normalised input is remade in cache, so the backward pass of
// a dense block need not rebuild it in memory — the same floats as
// bn.reapply into a buffer, then weightGrad on it. It reports false, having
// written nothing, for a width the packed 3×3 kernel does not handle.
func (op *convGradWeightOp) weightGradBN(bn *bnOp, x, dy, dw []float32) bool {
	if op.g.pointwise() {
		op.pointwise(bn, x, dy, dw)
		return true
	}
	pk := packed3x3(op.g, op.cout)
	return pk != nil && op.packed3x3(pk, bn, x, dy, dw)
}

// wgradTile is how many columns the packed GEMM's 1×1 weight gradient
// packs at a time: a panel of them, PW_NR rows wide, stays in the L1 cache.
// Its floats do not depend on it.
const wgradTile = 256

// pointwise computes the weight gradient of a 1×1 convolution, dy·xᵀ or
// dy·bn(x)ᵀ, summing over the columns tile by tile in each worker's images
// (wgradTile on the packed GEMM, else pointwiseTile), then adding the
// workers' sums. (On the BLAS, copying the tiles into contiguous scratch
// does not pay: 0.92-1.02× in place against copied, in one process, on
// both paths.)
func (op *convGradWeightOp) pointwise(bn *bnOp, x, dy, dw []float32) {
	g := op.g
	ld := g.N * g.Pix
	op.cols = growScratch(op.cols)
	if pk := pointwisePacked(); pk != nil {
		a, b, act := bn.channelMap()
		op.perWorker(dw, func(wk, lo, hi int, acc []float32) {
			zero(acc)
			for p0 := lo * g.Pix; p0 < hi*g.Pix; p0 += wgradTile {
				p1 := min(p0+wgradTile, hi*g.Pix)
				t := op.cols[wk].get(pk.sizeT(op.cout, g.C, p1-p0))
				pk.weightGrad1x1(dy, ld, op.cout, x, ld, g.C, p0, p1, a, b, act, t, acc)
			}
		})
		return
	}
	op.perWorker(dw, func(wk, lo, hi int, acc []float32) {
		var beta float32
		eachTile(g, lo, hi, func(p0, p1 int) {
			in, ldin := x[p0:], ld
			if bn != nil {
				in, ldin = op.cols[wk].get(g.C*(p1-p0)), p1-p0
				bn.applyCols(x, ld, p0, p1, in)
			}
			sgemm(false, true, op.cout, g.K, p1-p0, 1, dy[p0:], ld, in, ldin, beta, acc, g.K)
			beta = 1
		})
	})
}

func (op *convGradWeightOp) DiffWRT(int) []bool { return []bool{false, false} }
func (op *convGradWeightOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("nets: %v has no second derivative", op)
}
