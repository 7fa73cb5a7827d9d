package nets

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Image geometry of every program's input: 32×32 RGB, NCHW float32.
const (
	ImageChannels = 3
	ImageSide     = 32
	ImageSize     = ImageChannels * ImageSide * ImageSide
)

// TrainKind selects the loss a training program minimises.
type TrainKind int

const (
	// Supervised: CE(C1(G(x)), y) + CE(C2(G(x)), y), the pre-training loss of
	// the two-head network.
	Supervised TrainKind = iota
	// StepA of MCD fine-tuning (Yu & Aizawa, ICCV 2019, Sec. 3.2): the same
	// two cross-entropies, but C2 sees detached features, so the extractor
	// learns through C1 only.
	StepA
	// StepB of MCD fine-tuning: the two cross-entropies on labelled data plus
	// max(0, m − (H̄(C1) − H̄(C2))) on an unlabelled batch, everything updated.
	StepB
)

func (k TrainKind) String() string {
	return [...]string{"supervised", "mcd-step-a", "mcd-step-b"}[k]
}

// HeadMode selects which classifier head(s) a score reads.
type HeadMode int

const (
	Head1     HeadMode = iota // C1 only
	Head2                     // C2 only
	HeadsMean                 // the average of the two heads' softmax
)

// ParseHeadMode reads "head1", "head2" or "mean".
func ParseHeadMode(s string) (HeadMode, error) {
	switch s {
	case "head1", "1":
		return Head1, nil
	case "head2", "2":
		return Head2, nil
	case "mean":
		return HeadsMean, nil
	}
	return 0, fmt.Errorf("heads %q: want head1, head2 or mean", s)
}

func (h HeadMode) String() string { return [...]string{"head1", "head2", "mean"}[h] }

// Program is one compiled graph of a model — a training step, an evaluation
// pass or an input-gradient pass — with fixed batch size, its own buffers and
// a gorgonia tape machine. Fill the inputs, Run, read the outputs.
type Program struct {
	m     *Model
	g     *G.ExprGraph
	vm    G.VM
	batch int

	x, y, xu    *tensor.Dense
	loss        *G.Node
	parts       []*G.Node
	z1, z2      *G.Node
	feat        *G.Node
	params      []*Param
	grads       G.Nodes
	inputGrad   *G.Node
	dropout     *rand.PCG
	temperature float64
}

// newProgram starts a graph: the input batch x (N, 3, 32, 32) turned into the
// channel-major layout the ops use.
func (m *Model) newProgram(batch int, training bool) (*Program, *builder, *G.Node, error) {
	if batch < 1 {
		return nil, nil, nil, fmt.Errorf("nets: batch size %d", batch)
	}
	p := &Program{m: m, batch: batch}
	var drop *rand.Rand
	if training {
		p.dropout = rand.NewPCG(1, 2)
		drop = rand.New(p.dropout)
	}
	b := newBuilder(m, training, drop)
	p.g = b.g
	var xn *G.Node
	xn, p.x = b.input("x", batch, ImageChannels, ImageSide, ImageSide)
	cnhw, err := SwapNC(xn)
	if err != nil {
		return nil, nil, nil, err
	}
	return p, b, cnhw, nil
}

// features runs the model's extractor in b.
func (m *Model) features(b *builder, x *G.Node) (*G.Node, error) {
	ext, err := m.Spec.extractor()
	if err != nil {
		return nil, err
	}
	f := ext(b, x)
	if b.err != nil {
		return nil, b.err
	}
	m.feature = f.Shape()[1]
	return f, nil
}

// buildEval builds (without compiling) the evaluation graph; New uses it to
// create the parameters.
func (m *Model) buildEval(batch int, fuse bool) (*Program, error) {
	p, b, x, err := m.newProgram(batch, false)
	if err != nil {
		return nil, err
	}
	if p.feat, err = m.features(b, x); err != nil {
		return nil, b.check("evaluation")
	}
	p.z1, p.z2 = b.heads(p.feat)
	if fuse {
		b.fuseConvBN()
	}
	return p, b.check("evaluation")
}

// fuseEvalBN makes evaluation programs apply each batch norm inside the
// convolution before it (builder.fuseConvBN); tests turn it off to compare.
var fuseEvalBN = true

// EvalProgram compiles a forward pass in evaluation mode (running BN
// statistics, no dropout) giving both heads' logits and the features.
func (m *Model) EvalProgram(batch int) (*Program, error) {
	p, err := m.buildEval(batch, fuseEvalBN)
	if err != nil {
		return nil, err
	}
	return p, p.compile()
}

// TrainProgram compiles a training step of the given kind. unlabelled is the
// unlabelled batch size for StepB (ignored otherwise).
func (m *Model) TrainProgram(kind TrainKind, batch, unlabelled int, margin float64) (*Program, error) {
	p, b, x, err := m.newProgram(batch, true)
	if err != nil {
		return nil, err
	}
	var yn *G.Node
	yn, p.y = b.input("y", batch)
	if p.feat, err = m.features(b, x); err != nil {
		return nil, b.check(kind.String())
	}
	feat2 := p.feat
	if kind == StepA {
		if feat2, err = StopGradient(p.feat); err != nil {
			return nil, err
		}
	}
	p.z1 = b.linear("head1", p.feat, m.Classes)
	p.z2 = b.linear("head2", feat2, m.Classes)
	if err := b.check(kind.String()); err != nil {
		return nil, err
	}
	ce1, err := SoftmaxNLL(yn, 1, true, p.z1)
	if err != nil {
		return nil, err
	}
	ce2, err := SoftmaxNLL(yn, 1, true, p.z2)
	if err != nil {
		return nil, err
	}
	p.parts = G.Nodes{ce1, ce2}
	if kind == StepB {
		if unlabelled < 1 {
			return nil, fmt.Errorf("nets: MCD step B needs an unlabelled batch, got size %d", unlabelled)
		}
		var xun *G.Node
		xun, p.xu = b.input("xu", unlabelled, ImageChannels, ImageSide, ImageSide)
		xuc, err := SwapNC(xun)
		if err != nil {
			return nil, err
		}
		// A second application of the extractor: its BN layers normalise the
		// unlabelled batch with its own statistics, as the authors' separate
		// forward calls do, and update the same running statistics.
		fu, err := m.features(b, xuc)
		if err != nil {
			return nil, b.check(kind.String())
		}
		u1, u2 := b.heads(fu)
		if err := b.check(kind.String()); err != nil {
			return nil, err
		}
		dis, err := EntropyMarginLoss(u1, u2, margin)
		if err != nil {
			return nil, err
		}
		p.parts = append(p.parts, dis)
	}
	if p.loss, err = SumScalars(p.parts...); err != nil {
		return nil, err
	}
	var wrt G.Nodes
	for _, par := range m.params {
		n, ok := b.nodes[par.Name]
		if !ok {
			return nil, fmt.Errorf("nets: %s graph does not use parameter %s", kind, par.Name)
		}
		p.params = append(p.params, par)
		wrt = append(wrt, n)
	}
	if p.grads, err = G.Grad(p.loss, wrt...); err != nil {
		return nil, fmt.Errorf("nets: differentiating the %s loss: %w", kind, err)
	}
	return p, p.compile()
}

// InputGradProgram compiles the gradient, with respect to the input images,
// of Σ_i −log S(x_i)[y_i] where S is the softmax at the given temperature of
// the chosen head(s) — ODIN's perturbation direction (Liang et al., ICLR 2018)
// when y is the predicted label. Evaluation mode throughout.
func (m *Model) InputGradProgram(batch int, temperature float64, heads HeadMode) (*Program, error) {
	p, b, x, err := m.newProgram(batch, false)
	if err != nil {
		return nil, err
	}
	var yn *G.Node
	yn, p.y = b.input("y", batch)
	if p.feat, err = m.features(b, x); err != nil {
		return nil, b.check("input-gradient")
	}
	p.z1, p.z2 = b.heads(p.feat)
	if err := b.check("input-gradient"); err != nil {
		return nil, err
	}
	var used []*G.Node
	switch heads {
	case Head1:
		used = []*G.Node{p.z1}
	case Head2:
		used = []*G.Node{p.z2}
	default:
		used = []*G.Node{p.z1, p.z2}
	}
	if p.loss, err = SoftmaxNLL(yn, temperature, false, used...); err != nil {
		return nil, err
	}
	p.temperature = temperature
	xn := p.g.ByName("x")[0]
	gs, err := G.Grad(p.loss, xn)
	if err != nil {
		return nil, fmt.Errorf("nets: differentiating with respect to the input: %w", err)
	}
	p.inputGrad = gs[0]
	return p, p.compile()
}

func (p *Program) compile() error {
	p.vm = G.NewTapeMachine(p.g)
	return nil
}

// Batch is the program's fixed batch size.
func (p *Program) Batch() int { return p.batch }

// Input is the (N, 3, 32, 32) image batch to fill before Run.
func (p *Program) Input() []float32 { return f32(p.x) }

// Labels is the label vector to fill before Run (class indices as floats);
// nil for evaluation programs.
func (p *Program) Labels() []float32 {
	if p.y == nil {
		return nil
	}
	return f32(p.y)
}

// Unlabelled is the unlabelled batch of an MCD Step B program.
func (p *Program) Unlabelled() []float32 {
	if p.xu == nil {
		return nil
	}
	return f32(p.xu)
}

// SetDropoutSeed makes the dropout masks of the next runs reproducible.
func (p *Program) SetDropoutSeed(a, b uint64) {
	if p.dropout != nil {
		p.dropout.Seed(a, b)
	}
}

// Run executes the program once on the current inputs.
func (p *Program) Run() error {
	p.vm.Reset()
	if err := p.vm.RunAll(); err != nil {
		return fmt.Errorf("nets: running %s graph: %w", p.m.Spec.Name, err)
	}
	if p.loss != nil {
		if l := p.Loss(); math.IsNaN(l) || math.IsInf(l, 0) {
			return fmt.Errorf("nets: loss is %v (diverged); lower the learning rate", l)
		}
	}
	return nil
}

// Loss is the scalar loss of the last run.
func (p *Program) Loss() float64 { return float64(scalarOf(p.loss.Value())) }

// LossParts are the terms of the last training loss: CE1, CE2 and, for Step
// B, the discrepancy term.
func (p *Program) LossParts() []float64 {
	out := make([]float64, len(p.parts))
	for i, n := range p.parts {
		out[i] = float64(scalarOf(n.Value()))
	}
	return out
}

// Logits are the two heads' outputs (N, classes) of the last run.
func (p *Program) Logits() (z1, z2 []float32) { return f32(p.z1.Value()), f32(p.z2.Value()) }

// Features are the extractor's outputs (N, F) of the last run.
func (p *Program) Features() []float32 { return f32(p.feat.Value()) }

// InputGrad is ∂loss/∂x (N, 3, 32, 32) of the last run of an input-gradient program.
func (p *Program) InputGrad() []float32 { return f32(p.inputGrad.Value()) }

// Params and Grads of a training program, aligned: Grads()[i] is ∂loss/∂Params()[i].
func (p *Program) Params() []*Param { return p.params }

// Grads returns the gradients of the last run.
func (p *Program) Grads() [][]float32 {
	out := make([][]float32, len(p.grads))
	for i, n := range p.grads {
		out[i] = f32(n.Value())
	}
	return out
}

// Close releases the machine.
func (p *Program) Close() error {
	if p.vm != nil {
		return p.vm.Close()
	}
	return nil
}
