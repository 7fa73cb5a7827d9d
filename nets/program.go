package nets

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mcdood/mcdood/internal/geometry"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Image geometry of every program's input: 32×32 RGB, NCHW float32 (the
// one geometry of the project, internal/geometry). ImageSize counts the
// float32 values of one image; its bytes on disk are loaders.ImageBytes.
const (
	ImageChannels = geometry.Channels
	ImageSide     = geometry.Side
	ImageSize     = geometry.Size
)

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
// pass or an input-gradient pass — with fixed batch sizes, its own buffers
// and a gorgonia tape machine. Fill the inputs, Run, read the outputs.
type Program struct {
	m         *Model
	g         *G.ExprGraph
	vm        G.VM
	inputs    map[*G.Node]*tensor.Dense
	loss      *G.Node
	params    []*Param
	grads     G.Nodes
	inputGrad *G.Node
	dropout   *rand.PCG

	// The tensors of the programs made by EvalProgram, TrainProgram and
	// InputGradProgram, read by the accessors below.
	x, y, z1, z2, feat Tensor
}

// EvalProgram compiles a forward pass in evaluation mode (running BN
// statistics, no dropout) giving both heads' logits and the features.
func (m *Model) EvalProgram(batch int) (*Program, error) {
	g := m.NewGraph(Evaluation)
	x := g.Images(batch)
	f := g.Features(x)
	z1, z2 := g.Head(1, f), g.Head(2, f)
	p, err := g.Eval()
	if err != nil {
		return nil, err
	}
	p.x, p.z1, p.z2, p.feat = x, z1, z2, f
	return p, nil
}

// TrainProgram compiles the pre-training step of the two-head network:
// CE(C1(G(x)), y) + CE(C2(G(x)), y), both heads learning the labels (Yu &
// Aizawa, ICCV 2019, Sec. 3.2), smoothed by smoothing when it is not 0.
func (m *Model) TrainProgram(batch int, smoothing float64) (*Program, error) {
	g := m.NewGraph(Training)
	x, y := g.Images(batch), g.Labels(batch)
	f := g.Features(x)
	z1, z2 := g.Head(1, f), g.Head(2, f)
	p, err := g.Train(g.Sum(g.SmoothedCrossEntropy(z1, y, smoothing), g.SmoothedCrossEntropy(z2, y, smoothing)))
	if err != nil {
		return nil, err
	}
	p.x, p.y, p.z1, p.z2, p.feat = x, y, z1, z2, f
	return p, nil
}

// EntropyMarginStep is a compiled training step of a leave-out classifier
// (EntropyMarginProgram): the program and its held-out batch's input and
// logits.
type EntropyMarginStep struct {
	*Program
	Outliers      Tensor    // the held-out images, to fill before Run
	OutlierLogits [2]Tensor // each head's logits on them
}

// EntropyMarginProgram compiles the training step of a leave-out classifier
// (Vyas et al., "Out-of-Distribution Detection Using an Ensemble of Self
// Supervised Leave-out Classifiers", ECCV 2018, Eq. 1): for each head, its
// cross-entropy on a labelled batch x plus
//
//	weight·max(0, margin + H̄(in) − H̄(out))
//
// where H̄ is the mean entropy of the head's softmax on x and on a batch u of
// held-out images: u's entropy must exceed x's by the margin. G runs on the
// two batches separately (each with its own batch statistics), as the
// authors' reimplementation (YU1ut/Ensemble-of-Leave-out-Classifiers) does.
func (m *Model) EntropyMarginProgram(batch, outliers int, smoothing, margin, weight float64) (*EntropyMarginStep, error) {
	g := m.NewGraph(Training)
	x, y, u := g.Images(batch), g.Labels(batch), g.Images(outliers)
	f, fu := g.Features(x), g.Features(u)
	z1, z2 := g.Head(1, f), g.Head(2, f)
	zu := [2]Tensor{g.Head(1, fu), g.Head(2, fu)}
	terms := []Tensor{g.SmoothedCrossEntropy(z1, y, smoothing), g.SmoothedCrossEntropy(z2, y, smoothing)}
	for k, z := range []Tensor{z1, z2} {
		gap := g.Sub(g.MeanEntropy(zu[k]), g.MeanEntropy(z))
		terms = append(terms, g.Scale(weight, g.Hinge(margin, gap)))
	}
	p, err := g.Train(g.Sum(terms...))
	if err != nil {
		return nil, err
	}
	p.x, p.y, p.z1, p.z2, p.feat = x, y, z1, z2, f
	return &EntropyMarginStep{Program: p, Outliers: u, OutlierLogits: zu}, nil
}

// InputGradProgram compiles the gradient, with respect to the input images,
// of Σ_i −log S(x_i)[y_i] where S is the softmax at the given temperature of
// the chosen head(s) — ODIN's perturbation direction (Liang et al., ICLR 2018)
// when y is the predicted label. Evaluation mode throughout.
func (m *Model) InputGradProgram(batch int, temperature float64, heads HeadMode) (*Program, error) {
	g := m.NewGraph(Evaluation)
	x, y := g.Images(batch), g.Labels(batch)
	f := g.Features(x)
	z1, z2 := g.Head(1, f), g.Head(2, f)
	used := []Tensor{z1, z2}
	switch heads {
	case Head1:
		used = used[:1]
	case Head2:
		used = used[1:]
	}
	p, err := g.InputGrad(g.NLL(y, temperature, used...), x)
	if err != nil {
		return nil, err
	}
	p.x, p.y, p.z1, p.z2, p.feat = x, y, z1, z2, f
	return p, nil
}

// fuseEvalBN makes evaluation programs apply each batch norm inside the
// convolution before it (builder.fuseConvBN); tests turn it off to compare.
var fuseEvalBN = true

func (p *Program) compile() error {
	p.vm = G.NewTapeMachine(p.g)
	return nil
}

// Data is the buffer of an input tensor — to fill before Run — or the
// value of any other tensor after a run.
func (p *Program) Data(t Tensor) []float32 {
	if t.n == nil {
		return nil
	}
	if v, ok := p.inputs[t.n]; ok {
		return f32(v)
	}
	return f32(t.n.Value())
}

// Scalar is the value of a scalar tensor (a loss) after a run.
func (p *Program) Scalar(t Tensor) float64 { return float64(scalarOf(t.n.Value())) }

// Batch is the batch size of the program's (first) images input.
func (p *Program) Batch() int { return len(p.Input()) / ImageSize }

// Input is the (N, 3, 32, 32) image batch of an EvalProgram, TrainProgram or
// InputGradProgram, to fill before Run.
func (p *Program) Input() []float32 { return p.Data(p.x) }

// Labels is the label vector of a TrainProgram or InputGradProgram, to fill
// before Run (class indices as floats).
func (p *Program) Labels() []float32 { return p.Data(p.y) }

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

// Logits are the two heads' outputs (N, classes) of the last run.
func (p *Program) Logits() (z1, z2 []float32) { return p.Data(p.z1), p.Data(p.z2) }

// Features are the extractor's outputs (N, F) of the last run.
func (p *Program) Features() []float32 { return p.Data(p.feat) }

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

// DropoutState is the state of the generator the program draws its dropout
// masks from (nil for a program without one). A training loop that
// checkpoints keeps it and restores it with SetDropoutState, so that a
// resumed run draws the masks an uninterrupted one would.
func (p *Program) DropoutState() ([]byte, error) {
	if p.dropout == nil {
		return nil, nil
	}
	return p.dropout.MarshalBinary()
}

// SetDropoutState restores a state from DropoutState.
func (p *Program) SetDropoutState(state []byte) error {
	if p.dropout == nil {
		if len(state) == 0 {
			return nil
		}
		return fmt.Errorf("nets: dropout state for a %s program without dropout", p.m.Spec.Name)
	}
	if err := p.dropout.UnmarshalBinary(state); err != nil {
		return fmt.Errorf("nets: dropout state: %w", err)
	}
	return nil
}
