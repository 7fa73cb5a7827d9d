package nets

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The rules every op here keeps are in the package documentation (doc.go).

var opSerial atomic.Uint64

// opBase gives an op its name, unique hash and the boilerplate methods.
type opBase struct {
	name string
	id   uint64
}

func newOpBase(format string, args ...any) opBase {
	return opBase{name: fmt.Sprintf(format, args...), id: opSerial.Add(1)}
}

func (o opBase) String() string        { return o.name }
func (o opBase) WriteHash(h hash.Hash) { fmt.Fprintf(h, "mcdood.%s#%d", o.name, o.id) }
func (o opBase) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}
func (o opBase) ReturnsPtr() bool     { return false }
func (o opBase) CallsExtern() bool    { return false }
func (o opBase) OverwritesInput() int { return -1 }

// Types used by the ops: float32 tensors of a given rank, and float32 scalars.
func tt(dims int) hm.Type { return G.TensorType{Dims: dims, Of: tensor.Float32} }

var scalarType hm.Type = tensor.Float32

func fnType(ts ...hm.Type) hm.Type { return hm.NewFnType(ts...) }

// f32 returns the float32 data of a tensor value, or a one-element slice for a
// scalar value.
func f32(v G.Value) []float32 {
	switch v := v.(type) {
	case *tensor.Dense:
		return v.Data().([]float32)
	case *G.F32:
		return []float32{float32(*v)}
	case tensor.Tensor:
		return v.Data().([]float32)
	}
	panic(fmt.Sprintf("nets: value %T is not float32", v))
}

// scalarOf reads a float32 scalar value (a *G.F32 or a one-element tensor).
func scalarOf(v G.Value) float32 { return f32(v)[0] }

// buffer is an op-owned output tensor, (re)allocated only when its shape changes.
type buffer struct {
	t *tensor.Dense
}

func (b *buffer) get(shape ...int) *tensor.Dense {
	if b.t != nil && b.t.Shape().Eq(tensor.Shape(shape)) {
		return b.t
	}
	b.t = tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape...))
	return b.t
}

// scratch is an op-owned float32 slice that grows as needed.
type scratch []float32

func (s *scratch) get(n int) []float32 {
	if cap(*s) < n {
		*s = make([]float32, n)
	}
	return (*s)[:n]
}

func zero(s []float32) {
	for i := range s {
		s[i] = 0
	}
}
