package nets

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Graph is a program of a model under construction: a caller takes the
// model's pieces — its feature extractor and two classifier heads — and
// combines them with losses into the step it needs, then compiles it. A
// method written on top of the engine (MCD's two steps, package mcd) reads
// as its paper does:
//
//	g := m.NewGraph(nets.Training)
//	x, y := g.Images(128), g.Labels(128)
//	f := g.Features(x)
//	loss := g.Sum(g.CrossEntropy(g.Head(1, f), y), g.CrossEntropy(g.Head(2, g.Detach(f)), y))
//	step, err := g.Train(loss)
//
// Applying Features (or a head) twice applies the same parameters twice.
// The first error sticks: later calls return empty tensors and the
// compiling call reports it.
type Graph struct {
	m    *Model
	b    *builder
	mode Mode
	// inputs maps each input's node (as the graph uses it) to the buffer the
	// caller fills.
	inputs map[*G.Node]*tensor.Dense
	// imagesIn is the (N, 3, 32, 32) node of each Images input, for input
	// gradients.
	imagesIn map[*G.Node]*G.Node
	dropout  *rand.PCG
	n        int // inputs made so far, for their names
	// fused: Eval has applied each batch norm inside the convolution
	// before it (builder.fuseConvBN), which leaves the graph without the
	// forward state a backward pass reads.
	fused bool
}

// Tensor is a value of a Graph: an input, features, logits or a scalar
// loss. Read it after a run with Program.Data or Program.Scalar.
type Tensor struct{ n *G.Node }

// Mode says how a graph treats batch normalisation and dropout.
type Mode int

const (
	// Evaluation uses the running batch-norm statistics and no dropout.
	Evaluation Mode = iota
	// Training normalises with each batch's statistics (updating the
	// running ones) and applies dropout; Train compiles its parameter
	// gradients.
	Training
)

// NewGraph starts a graph of m.
func (m *Model) NewGraph(mode Mode) *Graph {
	g := &Graph{m: m, mode: mode, inputs: map[*G.Node]*tensor.Dense{}, imagesIn: map[*G.Node]*G.Node{}}
	var drop *rand.Rand
	if mode == Training {
		g.dropout = rand.NewPCG(1, 2)
		drop = rand.New(g.dropout)
	}
	g.b = newBuilder(m, mode == Training, drop)
	return g
}

func (g *Graph) fail(err error) Tensor {
	g.b.fail(err)
	return Tensor{}
}

func (g *Graph) wrap(n *G.Node, err error) Tensor {
	if err != nil {
		return g.fail(err)
	}
	return Tensor{n}
}

// ok reports whether every tensor is usable (no error so far).
func (g *Graph) ok(ts ...Tensor) bool {
	if g.b.err != nil {
		return false
	}
	for _, t := range ts {
		if t.n == nil {
			g.b.fail(fmt.Errorf("nets: a tensor of another graph, or an empty one"))
			return false
		}
	}
	return true
}

// Images adds an input batch of images: fill Program.Data with batch
// normalised 32×32 RGB images, NCHW, before each run.
func (g *Graph) Images(batch int) Tensor {
	if batch < 1 {
		return g.fail(fmt.Errorf("nets: image batch of %d", batch))
	}
	if g.b.err != nil {
		return Tensor{}
	}
	n, v := g.b.input(g.name("x"), batch, ImageChannels, ImageSide, ImageSide)
	cnhw, err := SwapNC(n)
	if err != nil {
		return g.fail(err)
	}
	g.inputs[cnhw] = v
	g.imagesIn[cnhw] = n
	return Tensor{cnhw}
}

// Labels adds an input of batch class labels (class indices as floats).
func (g *Graph) Labels(batch int) Tensor {
	if g.b.err != nil {
		return Tensor{}
	}
	n, v := g.b.input(g.name("y"), batch)
	g.inputs[n] = v
	return Tensor{n}
}

func (g *Graph) name(prefix string) string {
	g.n++
	if g.n == 1 {
		return prefix
	}
	return fmt.Sprintf("%s%d", prefix, g.n)
}

// Features applies the model's feature extractor to images, giving (N, F).
func (g *Graph) Features(images Tensor) Tensor {
	if !g.ok(images) {
		return Tensor{}
	}
	f, err := g.m.features(g.b, images.n)
	if err != nil {
		return g.fail(err)
	}
	return Tensor{f}
}

// Head applies classifier head k (1 or 2: C1 and C2 of Yu & Aizawa) to
// features, giving logits (N, classes).
func (g *Graph) Head(k int, features Tensor) Tensor {
	if k != 1 && k != 2 {
		return g.fail(fmt.Errorf("nets: head %d: the model has heads 1 and 2", k))
	}
	if !g.ok(features) {
		return Tensor{}
	}
	n := g.b.head(fmt.Sprintf("head%d", k), features.n, g.m.Classes)
	if g.b.err != nil {
		return Tensor{}
	}
	return Tensor{n}
}

// Detach passes t on with no gradient flowing back through it.
func (g *Graph) Detach(t Tensor) Tensor {
	if !g.ok(t) {
		return Tensor{}
	}
	return g.wrap(StopGradient(t.n))
}

// CrossEntropy is the mean over the batch of −log softmax(z)[y]: the
// classification loss of logits z (N, K) and labels y.
func (g *Graph) CrossEntropy(z, y Tensor) Tensor {
	if !g.ok(z, y) {
		return Tensor{}
	}
	return g.wrap(SoftmaxNLL(y.n, 1, true, z.n))
}

// SmoothedCrossEntropy is CrossEntropy against labels smoothed by s:
// targets (1 − s)·onehot(y) + s/K (Szegedy et al., CVPR 2016).
func (g *Graph) SmoothedCrossEntropy(z, y Tensor, s float64) Tensor {
	if !g.ok(z, y) {
		return Tensor{}
	}
	return g.wrap(SmoothedCrossEntropy(y.n, z.n, s))
}

// NLL is Σ_i −log((1/H) Σ_h softmax(z_h,i / T)[y_i]) over the heads' logits
// given (a sum, not a mean): the loss whose input gradient ODIN follows.
func (g *Graph) NLL(y Tensor, temperature float64, heads ...Tensor) Tensor {
	if !g.ok(append(heads, y)...) {
		return Tensor{}
	}
	nodes := make([]*G.Node, len(heads))
	for i, h := range heads {
		nodes[i] = h.n
	}
	return g.wrap(SoftmaxNLL(y.n, temperature, false, nodes...))
}

// MeanEntropy is the mean over the batch of the entropy of softmax(z):
// H̄(p) = −(1/N) Σ_i Σ_k p_ik log p_ik.
func (g *Graph) MeanEntropy(z Tensor) Tensor {
	if !g.ok(z) {
		return Tensor{}
	}
	return g.wrap(MeanEntropy(z.n))
}

// Sum adds scalars.
func (g *Graph) Sum(xs ...Tensor) Tensor {
	if !g.ok(xs...) {
		return Tensor{}
	}
	nodes := make([]*G.Node, len(xs))
	for i, x := range xs {
		nodes[i] = x.n
	}
	return g.wrap(SumScalars(nodes...))
}

// Sub is a − b for scalars.
func (g *Graph) Sub(a, b Tensor) Tensor {
	if !g.ok(a, b) {
		return Tensor{}
	}
	return g.wrap(SubScalars(a.n, b.n))
}

// Scale is w·x for a scalar x.
func (g *Graph) Scale(w float64, x Tensor) Tensor {
	if !g.ok(x) {
		return Tensor{}
	}
	return g.wrap(ScaleScalar(w, x.n))
}

// Hinge is max(0, margin − x) for a scalar x.
func (g *Graph) Hinge(margin float64, x Tensor) Tensor {
	if !g.ok(x) {
		return Tensor{}
	}
	return g.wrap(Hinge(margin, x.n))
}

// Train compiles a training step that computes loss and its gradient with
// respect to every parameter of the model but the Frozen ones
// (Program.Params, Program.Grads); the graph must be in Training mode and
// use every parameter.
func (g *Graph) Train(loss Tensor) (*Program, error) {
	if g.mode != Training {
		return nil, fmt.Errorf("nets: Train on an evaluation graph")
	}
	if !g.ok(loss) {
		return nil, g.b.check("training")
	}
	p := g.program(loss)
	var wrt G.Nodes
	for _, par := range g.m.params {
		n, ok := g.b.nodes[par.Name]
		if !ok {
			return nil, fmt.Errorf("nets: the training graph of %s does not use parameter %s", g.m.Spec.Name, par.Name)
		}
		if par.Role == Frozen {
			continue
		}
		p.params = append(p.params, par)
		wrt = append(wrt, n)
	}
	skipUnusedInputGrads(g.b.g, wrt)
	var err error
	if p.grads, err = G.Grad(loss.n, wrt...); err != nil {
		return nil, fmt.Errorf("nets: differentiating the training loss: %w", err)
	}
	return p, p.compile()
}

// Eval compiles a forward pass without gradients; in an evaluation graph,
// each batch norm is applied inside the convolution before it
// (builder.fuseConvBN).
func (g *Graph) Eval() (*Program, error) {
	if err := g.b.check("evaluation"); err != nil {
		return nil, err
	}
	if fuseEvalBN {
		g.b.fuseConvBN()
		g.fused = !g.b.training
	}
	p := g.program(Tensor{})
	return p, p.compile()
}

// InputGrad compiles a pass that computes loss and its gradient with
// respect to the images input (Program.InputGrad), in evaluation mode.
func (g *Graph) InputGrad(loss, images Tensor) (*Program, error) {
	if g.mode != Evaluation {
		return nil, fmt.Errorf("nets: InputGrad on a training graph")
	}
	if g.fused {
		return nil, fmt.Errorf("nets: InputGrad on a graph compiled by Eval, whose batch norms are fused into their convolutions")
	}
	if !g.ok(loss, images) {
		return nil, g.b.check("input-gradient")
	}
	in, ok := g.imagesIn[images.n]
	if !ok {
		return nil, fmt.Errorf("nets: InputGrad: images is not an Images input of this graph")
	}
	p := g.program(loss)
	skipParamGrads(g.b.g)
	gs, err := G.Grad(loss.n, in)
	if err != nil {
		return nil, fmt.Errorf("nets: differentiating with respect to the input: %w", err)
	}
	p.inputGrad = gs[0]
	return p, p.compile()
}

func (g *Graph) program(loss Tensor) *Program {
	return &Program{m: g.m, g: g.b.g, inputs: g.inputs, loss: loss.n, dropout: g.dropout}
}
