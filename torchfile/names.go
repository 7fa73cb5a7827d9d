package torchfile

import (
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/nlpodyssey/gopickle/types"
)

// entry is one key/value pair of a dict or OrderedDict, in order.
type entry struct{ key, value any }

// entries lists a dict's or OrderedDict's pairs in order.
func entries(v any) ([]entry, bool) {
	switch d := v.(type) {
	case *types.Dict:
		out := make([]entry, 0, d.Len())
		for _, e := range *d {
			out = append(out, entry{e.Key, e.Value})
		}
		return out, true
	case *types.OrderedDict:
		out := make([]entry, 0, d.Len())
		for el := d.List.Front(); el != nil; el = el.Next() {
			e := el.Value.(*types.OrderedDictEntry)
			out = append(out, entry{e.Key, e.Value})
		}
		return out, true
	}
	return nil, false
}

// describe names a decoded value's kind for messages.
func describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "None"
	case *object:
		return "a " + t.class.String() + " object"
	case *class:
		return "the class or function " + t.String()
	case *tensor:
		return "a tensor"
	case *types.Dict, *types.OrderedDict:
		es, _ := entries(v)
		var keys []string
		for _, e := range es {
			keys = append(keys, fmt.Sprint(e.key))
		}
		if len(keys) > 8 {
			keys = append(keys[:8], "…")
		}
		return "a dict with keys " + strings.Join(keys, ", ")
	}
	return fmt.Sprintf("a %T", v)
}

// name turns the decoded object into f's named tensors, in the order
// module.state_dict() gives them.
func (f *File) name(root any) error {
	var named []namedTensor
	if es, ok := entries(root); ok {
		f.Object = "state_dict"
		for _, e := range es {
			if e.key == "state_dict" {
				f.Object, root = "checkpoint", e.value
			}
		}
		if f.Object == "checkpoint" {
			f.Meta = map[string]string{}
			for _, e := range es {
				k, ok := e.key.(string)
				if !ok || k == "state_dict" {
					continue
				}
				switch v := e.value.(type) {
				case int, float64, bool, string:
					f.Meta[k] = fmt.Sprint(v)
				}
			}
		}
	}
	if o, ok := root.(*object); ok {
		if f.Object == "" {
			f.Object = "model"
		}
		f.Class = o.class.String()
		f.Modules = map[string]Module{}
		if err := f.module("", o, &named); err != nil {
			return err
		}
	} else {
		es, ok := entries(root)
		switch {
		case !ok && f.Object == "checkpoint":
			return f.fail(ErrCorrupt, "its state_dict is %s, not a dict of tensors", describe(root))
		case !ok:
			return f.fail(ErrCorrupt, "holds %s, not a model, a state dict or a dict with a state_dict", describe(root))
		}
		for _, e := range es {
			k, ok := e.key.(string)
			if !ok {
				return f.fail(ErrCorrupt, "state dict key %v is not a string", e.key)
			}
			t := asTensor(e.value)
			if t == nil {
				return f.fail(ErrCorrupt, "state dict entry %s is %s, not a tensor", k, describe(e.value))
			}
			named = append(named, namedTensor{k, t})
		}
	}
	if len(named) == 0 {
		return f.fail(ErrCorrupt, "holds no tensors")
	}
	seen := map[string]bool{}
	for _, nt := range named {
		if seen[nt.name] {
			return f.fail(ErrCorrupt, "tensor %s appears twice", nt.name)
		}
		seen[nt.name] = true
		data, err := nt.t.materialise()
		if err != nil {
			return f.fail(ErrCorrupt, "tensor %s: %v", nt.name, err)
		}
		f.Tensors = append(f.Tensors, Tensor{Name: nt.name, Shape: append([]int{}, nt.t.size...), DType: nt.t.st.dt.name,
			Data: data, Location: nt.t.st.location})
	}
	return nil
}

type namedTensor struct {
	name string
	t    *tensor
}

// asTensor unwraps a tensor or a Parameter (PyTorch < 0.4 pickles
// Parameter(data) with a state).
func asTensor(v any) *tensor {
	switch t := v.(type) {
	case *tensor:
		return t
	case *object:
		if t.class.String() == "torch.nn.parameter.Parameter" && len(t.args) >= 1 {
			if d, ok := t.args[0].(*tensor); ok {
				return d
			}
		}
	}
	return nil
}

// module walks an nn.Module as Module.state_dict does: its parameters, its
// buffers, then each child module under its name.
func (f *File) module(prefix string, o *object, out *[]namedTensor) error {
	where := "the model"
	if prefix != "" {
		where = "module " + strings.TrimSuffix(prefix, ".")
	}
	if _, ok := o.dict["_parameters"]; !ok {
		return f.fail(ErrCorrupt, "%s is %s, not an nn.Module (no _parameters)", where, describe(o))
	}
	m := Module{Class: o.class.String(), Attrs: map[string]float64{}}
	for k, v := range o.dict {
		switch x := v.(type) {
		case int:
			m.Attrs[k] = float64(x)
		case float64:
			m.Attrs[k] = x
		case bool:
			m.Attrs[k] = 0
			if x {
				m.Attrs[k] = 1
			}
		case *big.Int:
			fl, _ := new(big.Float).SetInt(x).Float64()
			m.Attrs[k] = fl
		}
	}
	f.Modules[strings.TrimSuffix(prefix, ".")] = m
	skip := nonPersistent(o.dict["_non_persistent_buffers_set"])
	for _, field := range []string{"_parameters", "_buffers"} {
		v := o.dict[field]
		if v == nil {
			continue
		}
		es, ok := entries(v)
		if !ok {
			return f.fail(ErrCorrupt, "%s: %s is %s, not a dict", where, field, describe(v))
		}
		for _, e := range es {
			k, _ := e.key.(string)
			if e.value == nil || field == "_buffers" && skip[k] {
				continue // a module without a bias has bias = None; non-persistent buffers are not saved
			}
			t := asTensor(e.value)
			if t == nil {
				return f.fail(ErrCorrupt, "%s: %s[%v] is %s, not a tensor", where, field, e.key, describe(e.value))
			}
			*out = append(*out, namedTensor{prefix + k, t})
		}
	}
	if v := o.dict["_modules"]; v != nil {
		es, ok := entries(v)
		if !ok {
			return f.fail(ErrCorrupt, "%s: _modules is %s, not a dict", where, describe(v))
		}
		for _, e := range es {
			k, _ := e.key.(string)
			if e.value == nil {
				continue
			}
			child, ok := e.value.(*object)
			if !ok {
				return f.fail(ErrCorrupt, "%s: child %v is %s, not a module", where, e.key, describe(e.value))
			}
			if err := f.module(prefix+k+".", child, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// nonPersistent reads a module's _non_persistent_buffers_set (PyTorch ≥
// 1.6), whose buffers state_dict leaves out: a Python set, pickled as
// builtins.set([names]) at protocol 2 or as a set at protocol 4.
func nonPersistent(v any) map[string]bool {
	out := map[string]bool{}
	var items []any
	switch s := v.(type) {
	case *object:
		if len(s.args) == 1 {
			switch l := s.args[0].(type) {
			case *types.List:
				items = *l
			case *types.Tuple:
				items = *l
			}
		}
	case *types.Set:
		for k := range *s {
			items = append(items, k)
		}
	}
	for _, it := range items {
		if k, ok := it.(string); ok {
			out[k] = true
		}
	}
	return out
}

// materialise copies the tensor's elements, in row-major order, out of its
// storage as float32, checking that every element it names is inside it.
func (t *tensor) materialise() ([]float32, error) {
	n := 1
	for _, d := range t.size {
		if d != 0 && n > MaxBytes/d {
			return nil, fmt.Errorf("size %v is too large", t.size)
		}
		n *= d
	}
	if n == 0 {
		return []float32{}, nil
	}
	if n > t.st.numel && n > 1<<24 { // a zero stride repeats elements: never in weights
		return nil, fmt.Errorf("size %v repeats the %d elements of storage %s %d times over", t.size, t.st.numel, t.st.key, n/max(t.st.numel, 1))
	}
	last := t.offset
	for i, d := range t.size {
		if t.stride[i] > 0 && d-1 > (MaxBytes-last)/t.stride[i] {
			return nil, fmt.Errorf("size %v with stride %v is too large", t.size, t.stride)
		}
		last += (d - 1) * t.stride[i]
	}
	raw := t.st.bytes()
	if last >= t.st.numel || raw == nil {
		return nil, fmt.Errorf("size %v, stride %v at offset %d runs past its storage %s of %d elements", t.size, t.stride, t.offset, t.st.key, t.st.numel)
	}
	es := t.st.dt.size
	out := make([]float32, n)
	idx := make([]int, len(t.size))
	pos := t.offset
	for i := range out {
		out[i] = t.st.dt.conv(raw[pos*es : (pos+1)*es])
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			pos += t.stride[d]
			if idx[d] < t.size[d] {
				break
			}
			pos -= idx[d] * t.stride[d]
			idx[d] = 0
		}
	}
	return out, nil
}

// Names lists the tensors' names in file order.
func (f *File) Names() []string {
	out := make([]string, len(f.Tensors))
	for i, t := range f.Tensors {
		out[i] = t.Name
	}
	return out
}

// ModuleNames lists the modules of a whole pickled model, sorted.
func (f *File) ModuleNames() []string {
	out := make([]string, 0, len(f.Modules))
	for k := range f.Modules {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
