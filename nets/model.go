package nets

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Param is one tensor of a model's weights, shared by all its graphs.
type Param struct {
	Name  string
	Value *tensor.Dense
	Role  Role
}

// InHead reports whether the parameter belongs to a classifier head (C1
// or C2), not to the feature extractor.
func (p *Param) InHead() bool {
	return strings.HasPrefix(p.Name, "head1.") || strings.HasPrefix(p.Name, "head2.")
}

// Role says how training treats a parameter.
type Role int

const (
	// Trained parameters are updated by every step.
	Trained Role = iota
	// NormShift is a batch norm's shift β, whose learning rate a recipe may
	// scale (TrainConfig.NormShiftLRScale; airbench's bias_scaler).
	NormShift
	// Frozen parameters are never trained: airbench's whitening filters,
	// computed from the training images before training.
	Frozen
	// EarlyOnly parameters are trained for the first
	// TrainConfig.EarlyOnlyEpochs epochs only (airbench's whitening bias).
	EarlyOnly
)

// Data returns the parameter's values.
func (p *Param) Data() []float32 { return f32(p.Value) }

// Model is a feature extractor with two linear classifier heads, the network
// of Yu & Aizawa (ICCV 2019): G, C1 and C2 in the authors' code. It owns the
// parameters and batch-norm statistics; graphs built from it (Programs) share
// them, so an update is seen by every graph.
type Model struct {
	Spec    Spec
	Classes int

	params  []*Param
	byName  map[string]*Param
	bn      map[string]*bnState
	bnNames []string
	init    *rand.Rand // draws initial weights while the first graph is built
	feature int        // feature width F, known after the first build
}

// New makes a model of the given architecture for a number of classes, with
// weights initialised from seed as the authors' PyTorch code does (He-normal
// convolutions with fan-out, unit BN, PyTorch-default linear heads).
func New(spec Spec, classes int, seed uint64) (*Model, error) {
	if classes < 2 {
		return nil, fmt.Errorf("nets: %d classes; need at least 2", classes)
	}
	m := &Model{Spec: spec, Classes: classes, byName: map[string]*Param{}, bn: map[string]*bnState{},
		init: rand.New(rand.NewPCG(seed, 0x6d6364))}
	// Build once on a one-image batch to create every parameter in a fixed order.
	g := m.NewGraph(Evaluation)
	f := g.Features(g.Images(1))
	g.Head(1, f)
	g.Head(2, f)
	if err := g.b.check("evaluation"); err != nil {
		return nil, err
	}
	m.init = nil
	return m, nil
}

// Params returns the trainable parameters in creation order.
func (m *Model) Params() []*Param { return m.params }

// NumParams counts trainable scalars.
func (m *Model) NumParams() int {
	n := 0
	for _, p := range m.params {
		n += p.Value.Shape().TotalSize()
	}
	return n
}

// FeatureDim is the width of the extractor's output (the heads' input).
func (m *Model) FeatureDim() int { return m.feature }

// param returns the named parameter, creating it with init and role on
// first use.
func (m *Model) param(name string, shape []int, init func(rng *rand.Rand, v []float32), role Role) (*Param, error) {
	if p, ok := m.byName[name]; ok {
		if !p.Value.Shape().Eq(tensor.Shape(shape)) {
			return nil, fmt.Errorf("nets: parameter %s has shape %v, graph wants %v", name, p.Value.Shape(), shape)
		}
		return p, nil
	}
	if m.init == nil {
		return nil, fmt.Errorf("nets: parameter %s does not exist in model %s", name, m.Spec.Name)
	}
	p := &Param{Name: name, Value: tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape...)), Role: role}
	init(m.init, p.Data())
	m.params = append(m.params, p)
	m.byName[name] = p
	return p, nil
}

func (m *Model) bnState(name string, c int, o BNOptions) *bnState {
	if s, ok := m.bn[name]; ok {
		return s
	}
	s := newBNState(c)
	if o.Eps != 0 {
		s.Eps = o.Eps
	}
	if o.Momentum != 0 {
		s.Momentum = o.Momentum
	}
	m.bn[name] = s
	m.bnNames = append(m.bnNames, name)
	return s
}

// heNormal is the authors' convolution init: N(0, sqrt(2 / (k·k·Cout))).
func heNormal(fanOut int) func(*rand.Rand, []float32) {
	std := math.Sqrt(2 / float64(fanOut))
	return func(rng *rand.Rand, v []float32) {
		for i := range v {
			v[i] = float32(rng.NormFloat64() * std)
		}
	}
}

// torchConvInit is PyTorch's default nn.Conv2d initialisation, U(±1/√fan_in)
// (kaiming_uniform_ with a = √5), followed, when dirac is set, by
// torch.nn.init.dirac_ on the first min(cout, cin) filters: each of them the
// identity of its input channel (airbench's implicit residual).
func torchConvInit(cout, cin, k int, dirac bool) func(*rand.Rand, []float32) {
	return func(rng *rand.Rand, v []float32) {
		uniformInit(1/math.Sqrt(float64(cin*k*k)))(rng, v)
		if !dirac {
			return
		}
		for o := 0; o < min(cout, cin); o++ {
			f := v[o*cin*k*k : (o+1)*cin*k*k]
			zero(f)
			f[(o*k+k/2)*k+k/2] = 1
		}
	}
}

// uniformInit draws U(−b, b): PyTorch's default nn.Linear init has b = 1/sqrt(fan_in)
// for weights and bias alike.
func uniformInit(b float64) func(*rand.Rand, []float32) {
	return func(rng *rand.Rand, v []float32) {
		for i := range v {
			v[i] = float32((2*rng.Float64() - 1) * b)
		}
	}
}

func constInit(c float32) func(*rand.Rand, []float32) {
	return func(_ *rand.Rand, v []float32) {
		for i := range v {
			v[i] = c
		}
	}
}

// sortedBN lists batch-norm layer names in a stable order (for checkpoints).
func (m *Model) sortedBN() []string {
	names := append([]string(nil), m.bnNames...)
	sort.Strings(names)
	return names
}

// Clone returns an independent copy of the model: parameters and batch-norm
// statistics are copied, so fine-tuning the clone leaves m untouched.
func (m *Model) Clone() *Model {
	c := &Model{Spec: m.Spec, Classes: m.Classes, byName: map[string]*Param{}, bn: map[string]*bnState{}, feature: m.feature}
	for _, p := range m.params {
		q := &Param{Name: p.Name, Value: p.Value.Clone().(*tensor.Dense), Role: p.Role}
		c.params = append(c.params, q)
		c.byName[q.Name] = q
	}
	for _, name := range m.bnNames {
		s := m.bn[name]
		c.bn[name] = &bnState{Mean: append([]float32(nil), s.Mean...), Var: append([]float32(nil), s.Var...), Momentum: s.Momentum, Eps: s.Eps}
		c.bnNames = append(c.bnNames, name)
	}
	return c
}

// Digest identifies the model's weights: the sha256, in hexadecimal, of its
// architecture, classes, parameters and batch-norm statistics (a loop that
// checkpoints keys its checkpoint by the weights it started from).
func (m *Model) Digest() string {
	h := sha256.New()
	fmt.Fprintf(h, "%+v %d\n", m.Spec, m.Classes)
	raw := make([]byte, 0, 1<<16)
	write := func(name string, v []float32) {
		fmt.Fprintf(h, "%s %d\n", name, len(v))
		for i := 0; i < len(v); i += 1 << 14 {
			raw = raw[:0]
			for _, f := range v[i:min(i+1<<14, len(v))] {
				raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(f))
			}
			h.Write(raw)
		}
	}
	for _, p := range m.params {
		write(p.Name, p.Data())
	}
	for _, name := range m.sortedBN() {
		write(name+" mean", m.bn[name].Mean)
		write(name+" var", m.bn[name].Var)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Describe summarises a model for logs: name, parameters, feature width.
func (m *Model) Describe() string {
	return fmt.Sprintf("%s: %.2fM parameters, %d features, %d classes", m.Spec.Name, float64(m.NumParams())/1e6, m.FeatureDim(), m.Classes)
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

// InitFromData computes what the architecture takes from the training
// images before training (airbench's whitening filters); Train calls it for
// a new model. Other architectures need nothing.
func (m *Model) InitFromData(src Source) error {
	if init := m.Spec.dataInit(); init != nil {
		return init(m, src)
	}
	return nil
}
