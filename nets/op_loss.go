package nets

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Softmax writes softmax(z/t) into p (float64, len(z) values) and returns
// log Σ exp(z/t), stably: the row maximum is subtracted first (stock
// gorgonia's SoftMax subtracted the tensor's first element and overflowed in
// float32). Every softmax of the project is this one: the losses here and
// the detectors' scores.
func Softmax(z []float32, t float64, p []float64) (logSum float64) {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, float64(v)/t)
	}
	var s float64
	for j, v := range z {
		e := math.Exp(float64(v)/t - m)
		p[j] = e
		s += e
	}
	for j := range p[:len(z)] {
		p[j] /= s
	}
	return m + math.Log(s)
}

// nllOp is the negative log-likelihood of the labels under the average of
// the heads' softmax at temperature T:
//
//	L = scale · Σ_i −log( (1/H) Σ_h softmax(z_h,i / T)[y_i] )
//
// With one head, T = 1 and scale = 1/N it is the usual mean cross-entropy;
// ODIN (Liang et al., ICLR 2018) uses T = 1000 and the predicted labels, and
// with heads = "mean" the two heads' average (Yu & Aizawa's two-head
// network). Inputs: H logit matrices (N, K), then the labels (N) as floats.
type nllOp struct {
	opBase
	heads, n, k int
	temp        float64
	mean        bool // scale 1/N (else 1)
	// smoothing s > 0 (one head, T = 1) makes the target (1 − s)·onehot(y)
	// + s/K, as PyTorch's label_smoothing (Szegedy et al., CVPR 2016):
	// L_i = −(1 − s)·log p_iy − (s/K)·Σ_k log p_ik.
	smoothing float64
	out       G.F32
	probs     [][]float64 // per head, N×K softmax from the last run
}

// SmoothedCrossEntropy is the mean cross-entropy of logits z (N, K) against
// labels smoothed by s (see nllOp).
func SmoothedCrossEntropy(labels, z *G.Node, s float64) (*G.Node, error) {
	if !(s >= 0 && s < 1) {
		return nil, fmt.Errorf("nets: label smoothing %v outside [0, 1)", s)
	}
	n, err := SoftmaxNLL(labels, 1, true, z)
	if err == nil && s > 0 {
		n.Op().(*nllOp).smoothing = s
	}
	return n, err
}

// SoftmaxNLL builds the loss above over heads (each (N, K)) and labels (N).
// mean selects scale 1/N (a training loss) over 1 (a sum, for input gradients).
func SoftmaxNLL(labels *G.Node, temperature float64, mean bool, heads ...*G.Node) (*G.Node, error) {
	if len(heads) == 0 || temperature <= 0 {
		return nil, fmt.Errorf("nets: SoftmaxNLL needs at least one head and T > 0")
	}
	s := heads[0].Shape()
	for _, h := range heads {
		if !h.Shape().Eq(s) || s.Dims() != 2 {
			return nil, fmt.Errorf("nets: SoftmaxNLL: heads must be equal (N,K) matrices, got %v and %v", s, h.Shape())
		}
	}
	if labels.Shape().TotalSize() != s[0] {
		return nil, fmt.Errorf("nets: SoftmaxNLL: %v labels for %d rows", labels.Shape(), s[0])
	}
	op := &nllOp{opBase: newOpBase("nll/h%d/T%g", len(heads), temperature), heads: len(heads), n: s[0], k: s[1], temp: temperature, mean: mean}
	return G.ApplyOp(op, append(append(G.Nodes{}, heads...), labels)...)
}

func (op *nllOp) Arity() int { return op.heads + 1 }
func (op *nllOp) Type() hm.Type {
	ts := []hm.Type{}
	for i := 0; i < op.heads; i++ {
		ts = append(ts, tt(2))
	}
	return fnType(append(ts, tt(1), scalarType)...)
}
func (op *nllOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return tensor.ScalarShape(), nil }

func (op *nllOp) Do(vs ...G.Value) (G.Value, error) {
	labels := f32(vs[op.heads])
	if op.probs == nil {
		op.probs = make([][]float64, op.heads)
		for h := range op.probs {
			op.probs[h] = make([]float64, op.n*op.k)
		}
	}
	var total float64
	for i := 0; i < op.n; i++ {
		y := int(labels[i])
		if y < 0 || y >= op.k {
			return nil, fmt.Errorf("nets: label %v of row %d outside [0,%d)", labels[i], i, op.k)
		}
		if op.smoothing > 0 {
			z := f32(vs[0])[i*op.k : (i+1)*op.k]
			logSum := Softmax(z, 1, op.probs[0][i*op.k:(i+1)*op.k])
			var all float64
			for _, v := range z {
				all += float64(v) - logSum
			}
			total -= (1-op.smoothing)*(float64(z[y])-logSum) + op.smoothing/float64(op.k)*all
			continue
		}
		var q float64
		for h := 0; h < op.heads; h++ {
			p := op.probs[h][i*op.k : (i+1)*op.k]
			Softmax(f32(vs[h])[i*op.k:(i+1)*op.k], op.temp, p)
			q += p[y]
		}
		q /= float64(op.heads)
		total -= math.Log(math.Max(q, math.SmallestNonzeroFloat64))
	}
	op.out = G.F32(total * op.scale())
	return &op.out, nil
}

func (op *nllOp) scale() float64 {
	if op.mean {
		return 1 / float64(op.n)
	}
	return 1
}

func (op *nllOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := 0; i < op.heads; i++ {
		d[i] = true
	}
	return d
}

func (op *nllOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	grads := make(G.Nodes, len(inputs))
	for h := 0; h < op.heads; h++ {
		d, err := G.ApplyOp(&nllGradOp{opBase: newOpBase("∂ %v[%d]", op, h), fwd: op, head: h}, inputs[op.heads], grad)
		if err != nil {
			return nil, err
		}
		grads[h] = d
	}
	return grads, nil
}

// nllGradOp: ∂L/∂z_h,ij = −scale·g/(H·q_i·T) · p_h,iy (δ_jy − p_h,ij), from
// (labels, upstream scalar g) and the forward run's probabilities.
type nllGradOp struct {
	opBase
	fwd  *nllOp
	head int
	out  buffer
}

func (op *nllGradOp) Arity() int    { return 2 }
func (op *nllGradOp) Type() hm.Type { return fnType(tt(1), scalarType, tt(2)) }
func (op *nllGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.fwd.n, op.fwd.k}, nil
}

func (op *nllGradOp) Do(vs ...G.Value) (G.Value, error) {
	f := op.fwd
	labels, g := f32(vs[0]), float64(scalarOf(vs[1]))
	out := op.out.get(f.n, f.k)
	d := f32(out)
	for i := 0; i < f.n; i++ {
		y := int(labels[i])
		if f.smoothing > 0 {
			// ∂L_i/∂z_j = p_j − target_j.
			p := f.probs[0][i*f.k : (i+1)*f.k]
			c, uniform := f.scale()*g, f.smoothing/float64(f.k)
			for j, pj := range p {
				t := uniform
				if j == y {
					t += 1 - f.smoothing
				}
				d[i*f.k+j] = float32(c * (pj - t))
			}
			continue
		}
		var q float64
		for h := 0; h < f.heads; h++ {
			q += f.probs[h][i*f.k+y]
		}
		q /= float64(f.heads)
		p := f.probs[op.head][i*f.k : (i+1)*f.k]
		c := -f.scale() * g / (float64(f.heads) * math.Max(q, math.SmallestNonzeroFloat64) * f.temp) * p[y]
		for j := range p {
			delta := 0.0
			if j == y {
				delta = 1
			}
			d[i*f.k+j] = float32(c * (delta - p[j]))
		}
	}
	return out, nil
}

func (op *nllGradOp) DiffWRT(int) []bool { return []bool{false, false} }
func (op *nllGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("nets: %v has no second derivative", op)
}

// meanEntropyOp is the mean over the batch of the entropy of each row's
// softmax: H̄ = −(1/N) Σ_i Σ_k p_ik log p_ik for logits (N, K). MCD's Step B
// pushes it up on head 1 and down on head 2 for unlabelled images (Yu &
// Aizawa, ICCV 2019, eq. 4; the authors' solver.discrepancy).
type meanEntropyOp struct {
	opBase
	n, k   int
	out    G.F32
	p      []float64 // softmax of the last run
	h      []float64 // entropy per row
	logSum []float64 // log Σ exp(z) per row
}

// MeanEntropy builds the mean entropy above of z (N, K).
func MeanEntropy(z *G.Node) (*G.Node, error) {
	s := z.Shape()
	if s.Dims() != 2 {
		return nil, fmt.Errorf("nets: MeanEntropy: logits %v must be (N,K)", s)
	}
	return G.ApplyOp(&meanEntropyOp{opBase: newOpBase("mean-entropy"), n: s[0], k: s[1]}, z)
}

func (op *meanEntropyOp) Arity() int    { return 1 }
func (op *meanEntropyOp) Type() hm.Type { return fnType(tt(2), scalarType) }
func (op *meanEntropyOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}

func (op *meanEntropyOp) Do(vs ...G.Value) (G.Value, error) {
	if op.p == nil {
		op.p, op.h, op.logSum = make([]float64, op.n*op.k), make([]float64, op.n), make([]float64, op.n)
	}
	z := f32(vs[0])
	var mean float64
	for i := 0; i < op.n; i++ {
		p := op.p[i*op.k : (i+1)*op.k]
		logSum := Softmax(z[i*op.k:(i+1)*op.k], 1, p)
		var ent float64
		for j, pj := range p {
			// log p_j = z_j − logΣexp, exact even where p_j underflows.
			ent -= pj * (float64(z[i*op.k+j]) - logSum)
		}
		op.h[i], op.logSum[i] = ent, logSum
		mean += ent
	}
	op.out = G.F32(mean / float64(op.n))
	return &op.out, nil
}

func (op *meanEntropyOp) DiffWRT(int) []bool { return []bool{true} }

func (op *meanEntropyOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(&meanEntropyGradOp{opBase: newOpBase("∂ %v", op), fwd: op}, inputs[0], grad)
	return G.Nodes{d}, err
}

// meanEntropyGradOp: with ∂H/∂z_j = −p_j(log p_j + H), ∂H̄/∂z_ij =
// −(g/N) p_ij (log p_ij + H_i) for upstream g, from (z, g) and the forward
// run's softmax, entropies and log-sums.
type meanEntropyGradOp struct {
	opBase
	fwd *meanEntropyOp
	out buffer
}

func (op *meanEntropyGradOp) Arity() int    { return 2 }
func (op *meanEntropyGradOp) Type() hm.Type { return fnType(tt(2), scalarType, tt(2)) }
func (op *meanEntropyGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.fwd.n, op.fwd.k}, nil
}

func (op *meanEntropyGradOp) Do(vs ...G.Value) (G.Value, error) {
	f := op.fwd
	z, g := f32(vs[0]), float64(scalarOf(vs[1]))
	out := op.out.get(f.n, f.k)
	d := f32(out)
	c := -g / float64(f.n)
	for i := 0; i < f.n; i++ {
		p := f.p[i*f.k : (i+1)*f.k]
		row := z[i*f.k : (i+1)*f.k]
		for j, pj := range p {
			d[i*f.k+j] = float32(c * pj * (float64(row[j]) - f.logSum[i] + f.h[i]))
		}
	}
	return out, nil
}

func (op *meanEntropyGradOp) DiffWRT(int) []bool { return []bool{false, false} }
func (op *meanEntropyGradOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("nets: %v has no second derivative", op)
}
