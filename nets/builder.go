package nets

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// builder emits layers of a model into one gorgonia graph. Architectures are
// written against it; the first error sticks and later calls do nothing, so
// architecture code reads as a plain list of layers.
type builder struct {
	g        *G.ExprGraph
	m        *Model
	training bool
	dropout  *rand.Rand // nil outside training
	nodes    map[string]*G.Node
	cols     *colCache       // training graphs: memory convolutions may keep for their backward pass
	bns      []bnUse         // every batch-norm layer, for fuseConvBN
	blocks   []*denseBlockOp // every dense block, for fuseConvBN
	dense    *denseScratch   // the scratch the dense blocks share
	err      error
}

// bnUse is a batch-norm node with its input and parameter nodes.
type bnUse struct{ node, x, gamma, beta *G.Node }

// ColumnCacheFloats bounds, per training graph, the column matrices that
// convolutions keep from the forward pass for the weight gradient (saving one
// im2col each): 64M floats, 256 MB.
const ColumnCacheFloats = 64 << 20

func newBuilder(m *Model, training bool, dropout *rand.Rand) *builder {
	b := &builder{g: G.NewGraph(), m: m, training: training, dropout: dropout, nodes: map[string]*G.Node{}}
	if training {
		b.cols = &colCache{left: ColumnCacheFloats}
	}
	return b
}

func (b *builder) fail(err error) *G.Node {
	if b.err == nil {
		b.err = err
	}
	return nil
}

// input declares a float32 input tensor bound to a fresh value of the shape.
func (b *builder) input(name string, shape ...int) (*G.Node, *tensor.Dense) {
	v := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape...))
	return G.NewTensor(b.g, tensor.Float32, len(shape), G.WithShape(shape...), G.WithValue(v), G.WithName(name)), v
}

// param returns this graph's node for a trained model parameter (one node
// per graph).
func (b *builder) param(name string, shape []int, init func(*rand.Rand, []float32)) *G.Node {
	return b.paramRole(name, shape, init, Trained)
}

// paramRole is param for a parameter of the given role.
func (b *builder) paramRole(name string, shape []int, init func(*rand.Rand, []float32), role Role) *G.Node {
	if b.err != nil {
		return nil
	}
	if n, ok := b.nodes[name]; ok {
		return n
	}
	p, err := b.m.param(name, shape, init, role)
	if err != nil {
		return b.fail(err)
	}
	n := G.NewTensor(b.g, tensor.Float32, len(shape), G.WithShape(shape...), G.WithValue(p.Value), G.WithName(name))
	b.nodes[name] = n
	return n
}

func (b *builder) wrap(n *G.Node, err error) *G.Node {
	if err != nil {
		return b.fail(err)
	}
	return n
}

// conv is a bias-free k×k convolution to cout channels, initialised as the
// MCD authors' networks are (He-normal with fan-out).
func (b *builder) conv(name string, x *G.Node, cout, k, stride, pad int) *G.Node {
	if b.err != nil {
		return nil
	}
	return b.convWith(name, x, cout, k, stride, pad, heNormal(k*k*cout), Trained)
}

// convWith is conv with its own initialisation and parameter role.
func (b *builder) convWith(name string, x *G.Node, cout, k, stride, pad int, init func(*rand.Rand, []float32), role Role) *G.Node {
	if b.err != nil {
		return nil
	}
	cin := x.Shape()[0]
	w := b.paramRole(name+".w", []int{cout, cin, k, k}, init, role)
	if b.err != nil {
		return nil
	}
	return b.wrap(conv2D(x, w, stride, pad, b.cols))
}

// bn is batch normalisation, followed by ReLU when relu is set.
func (b *builder) bn(name string, x *G.Node, relu bool) *G.Node {
	o := BNOptions{}
	if relu {
		o.Act = ActReLU
	}
	return b.bnWith(name, x, o)
}

// bnWith is batch normalisation (or, with o.ShiftOnly, a per-channel shift)
// and an activation, as o says. A layer with a fixed scale has no gamma
// parameter (its scale is a constant 1); a shift layer's beta is its
// parameter name+".b" and it has no running statistics.
func (b *builder) bnWith(name string, x *G.Node, o BNOptions) *G.Node {
	if b.err != nil {
		return nil
	}
	c := x.Shape()[0]
	var gamma, beta *G.Node
	var st *bnState
	if o.FixedScale || o.ShiftOnly {
		gamma = b.constant(name+".scale", c, 1)
	} else {
		gamma = b.param(name+".gamma", []int{c}, constInit(1))
	}
	if o.ShiftOnly {
		beta = b.paramRole(name+".b", []int{c}, constInit(0), o.ShiftRole)
	} else {
		beta = b.paramRole(name+".beta", []int{c}, constInit(0), NormShift)
		st = b.m.bnState(name, c, o)
	}
	if b.err != nil {
		return nil
	}
	n := b.wrap(BatchNorm(x, gamma, beta, st, b.training, o))
	if n != nil && !o.ShiftOnly {
		b.bns = append(b.bns, bnUse{node: n, x: x, gamma: gamma, beta: beta})
	}
	return n
}

// constant is a (c) vector of v that is not a parameter.
func (b *builder) constant(name string, c int, v float32) *G.Node {
	t := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(c))
	for i := range f32(t) {
		f32(t)[i] = v
	}
	return G.NewTensor(b.g, tensor.Float32, 1, G.WithShape(c), G.WithValue(t), G.WithName(name))
}

// fuseConvBN lets each convolution whose only consumer is an
// evaluation-mode batch norm apply that layer (and its ReLU) to every chunk
// of its output right after the chunk's GEMM, while it is in cache, instead
// of in a second pass over the whole tensor: the batch norm then passes its
// input through. Only for graphs without gradients, which have no stock
// gorgonia op that could overwrite the shared buffer. Each dense block does
// the same inside itself, for each layer's second batch norm.
func (b *builder) fuseConvBN() {
	if b.training || b.err != nil {
		return
	}
	for _, u := range b.bns {
		conv, ok := u.x.Op().(*convOp)
		bn := u.node.Op().(*bnOp)
		if !ok || conv.post != nil || b.g.To(u.x.ID()).Len() != 1 {
			continue
		}
		conv.post = &convPost{bn: bn, gamma: u.gamma, beta: u.beta}
		bn.fused = true
	}
	for _, blk := range b.blocks {
		blk.fuse()
	}
}

func (b *builder) bnReLU(name string, x *G.Node) *G.Node { return b.bn(name, x, true) }

// head is classifier head name on features (N, F): a linear layer with
// PyTorch's default initialisation, or, for architectures whose heads have
// no bias and a fixed scale (airbench's, ×1/9), that.
func (b *builder) head(name string, x *G.Node, out int) *G.Node {
	scale, bias := b.m.Spec.headScale()
	if bias {
		return b.linear(name, x, out)
	}
	if b.err != nil {
		return nil
	}
	in := x.Shape()[1]
	w := b.param(name+".w", []int{out, in}, uniformInit(1/math.Sqrt(float64(in))))
	if b.err != nil {
		return nil
	}
	return b.wrap(ScaledLinear(x, w, scale))
}

func (b *builder) globalMaxPool(x *G.Node) *G.Node {
	if b.err != nil {
		return nil
	}
	return b.wrap(GlobalMaxPool(x))
}

// linear is a fully connected layer with PyTorch's default initialisation.
func (b *builder) linear(name string, x *G.Node, out int) *G.Node {
	if b.err != nil {
		return nil
	}
	in := x.Shape()[1]
	bound := 1 / math.Sqrt(float64(in))
	w := b.param(name+".w", []int{out, in}, uniformInit(bound))
	bias := b.param(name+".b", []int{out}, uniformInit(bound))
	if b.err != nil {
		return nil
	}
	return b.wrap(Linear(x, w, bias))
}

func (b *builder) concat(xs ...*G.Node) *G.Node {
	if b.err != nil {
		return nil
	}
	return b.wrap(ConcatChannels(xs...))
}

func (b *builder) avgPool(x *G.Node, k, stride int) *G.Node {
	if b.err != nil {
		return nil
	}
	return b.wrap(AvgPool2D(x, k, stride))
}

func (b *builder) globalPool(x *G.Node) *G.Node {
	if b.err != nil {
		return nil
	}
	return b.wrap(GlobalAvgPool(x))
}

func (b *builder) add(x, y *G.Node) *G.Node {
	if b.err != nil {
		return nil
	}
	return b.wrap(AddTensors(x, y))
}

// drop applies dropout in training graphs and nothing otherwise.
func (b *builder) drop(x *G.Node, p float64) *G.Node {
	if b.err != nil || p == 0 || !b.training {
		return x
	}
	return b.wrap(Dropout(x, p, b.dropout))
}

func (b *builder) check(what string) error {
	if b.err != nil {
		return fmt.Errorf("nets: building %s graph of %s: %w", what, b.m.Spec.Name, b.err)
	}
	return nil
}

func (b *builder) maxPool(x *G.Node) *G.Node {
	if b.err != nil {
		return nil
	}
	return b.wrap(MaxPool2(x))
}
