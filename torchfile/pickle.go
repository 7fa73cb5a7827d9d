package torchfile

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"path"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
)

var (
	f32frombits = math.Float32frombits
	f64frombits = math.Float64frombits
)

// half converts an IEEE 754 binary16 to float32 (gopickle's table method).
func half(u uint16) float32 { return math.Float32frombits(pytorch.FloatBits16to32(u)) }

// class is a Python class or function a pickle names and this package does
// not know (densenet.DenseNet3, torch.nn.modules.conv.Conv2d, or os.system):
// an inert record. Instantiating or calling it makes an object that only
// keeps its arguments.
type class struct{ module, name string }

func (c *class) String() string { return c.module + "." + c.name }

// PyNew is NEWOBJ (cls.__new__(cls, *args)).
func (c *class) PyNew(args ...any) (any, error) { return &object{class: c, args: args}, nil }

// Call is REDUCE or INST (cls(*args)).
func (c *class) Call(args ...any) (any, error) { return &object{class: c, args: args}, nil }

// object is an instance of a class: the arguments it was made with and the
// state BUILD gave it (an nn.Module's __dict__: _parameters, _buffers,
// _modules, eps …).
type object struct {
	class *class
	args  []any
	dict  map[string]any
	state any // a BUILD state that is not a dict (a Parameter's (requires_grad, volatile, hooks))
}

// PySetState is BUILD: a dict state (or the (dict, slots) pair of objects
// with __slots__) goes to dict, anything else is kept as it is.
func (o *object) PySetState(state any) error {
	merge := func(d any) bool {
		es, ok := entries(d)
		if !ok {
			return false
		}
		if o.dict == nil {
			o.dict = map[string]any{}
		}
		for _, e := range es {
			if k, ok := e.key.(string); ok {
				o.dict[k] = e.value
			}
		}
		return true
	}
	if t, ok := state.(*types.Tuple); ok && t.Len() == 2 {
		a, b := t.Get(0), t.Get(1)
		if (a == nil || merge(a)) && (b == nil || merge(b)) {
			return nil
		}
	}
	if state == nil || merge(state) {
		return nil
	}
	o.state = state
	return nil
}

// dtype is a storage's element type.
type dtype struct {
	name string // float32 …
	size int    // bytes per element
	conv func(b []byte) float32
}

var storageTypes = map[string]dtype{
	"FloatStorage":    {"float32", 4, func(b []byte) float32 { return f32frombits(binary.LittleEndian.Uint32(b)) }},
	"DoubleStorage":   {"float64", 8, func(b []byte) float32 { return float32(f64frombits(binary.LittleEndian.Uint64(b))) }},
	"HalfStorage":     {"float16", 2, func(b []byte) float32 { return half(binary.LittleEndian.Uint16(b)) }},
	"BFloat16Storage": {"bfloat16", 2, func(b []byte) float32 { return f32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16) }},
	"LongStorage":     {"int64", 8, func(b []byte) float32 { return float32(int64(binary.LittleEndian.Uint64(b))) }},
	"IntStorage":      {"int32", 4, func(b []byte) float32 { return float32(int32(binary.LittleEndian.Uint32(b))) }},
	"ShortStorage":    {"int16", 2, func(b []byte) float32 { return float32(int16(binary.LittleEndian.Uint16(b))) }},
	"CharStorage":     {"int8", 1, func(b []byte) float32 { return float32(int8(b[0])) }},
	"ByteStorage":     {"uint8", 1, func(b []byte) float32 { return float32(b[0]) }},
	"BoolStorage":     {"bool", 1, func(b []byte) float32 { return float32(b[0] & 1) }},
}

// storageClass is a storage type a pickle names (torch.FloatStorage, or
// torch.cuda.FloatStorage).
type storageClass struct{ dt dtype }

// storage is one storage of the file: its elements' bytes, once read.
type storage struct {
	dt       dtype
	key      string
	location string
	numel    int
	raw      []byte // numel·dt.size bytes, filled after the pickle
	// A view (legacy format only) is elements [offset, offset+numel) of base.
	base   *storage
	offset int
}

func (s *storage) bytes() []byte {
	if s.base != nil {
		b := s.base.bytes()
		lo, hi := s.offset*s.dt.size, (s.offset+s.numel)*s.dt.size
		if b == nil || hi > len(b) {
			return nil
		}
		return b[lo:hi]
	}
	return s.raw
}

// tensor is what a tensor rebuilder made: a strided view of a storage.
type tensor struct {
	st           *storage
	offset       int
	size, stride []int
}

// rebuilder is one of torch._utils' functions that pickles call to make a
// tensor; it only checks and records its arguments.
type rebuilder struct {
	name string
	// build makes the value from the arguments.
	build func(args []any) (any, error)
}

func (r *rebuilder) Call(args ...any) (any, error) {
	v, err := r.build(args)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.name, err)
	}
	return v, nil
}

// rebuildTensor is _rebuild_tensor(storage, storage_offset, size, stride)
// (PyTorch < 0.4) and _rebuild_tensor_v2(…, requires_grad, backward_hooks
// [, metadata]).
func rebuildTensor(minArgs int) func(args []any) (any, error) {
	return func(args []any) (any, error) {
		if len(args) < minArgs {
			return nil, fmt.Errorf("%d arguments, want at least %d", len(args), minArgs)
		}
		st, ok := args[0].(*storage)
		if !ok {
			return nil, fmt.Errorf("argument 1 is a %T, not a storage", args[0])
		}
		off, ok := args[1].(int)
		if !ok || off < 0 {
			return nil, fmt.Errorf("storage offset %v", args[1])
		}
		size, err := ints(args[2])
		if err != nil {
			return nil, fmt.Errorf("size: %w", err)
		}
		stride, err := ints(args[3])
		if err != nil {
			return nil, fmt.Errorf("stride: %w", err)
		}
		if len(size) != len(stride) {
			return nil, fmt.Errorf("size %v and stride %v differ in length", size, stride)
		}
		return &tensor{st: st, offset: off, size: size, stride: stride}, nil
	}
}

// rebuildParameter is _rebuild_parameter(data, requires_grad,
// backward_hooks) and _rebuild_parameter_with_state(…, state): the data.
func rebuildParameter(args []any) (any, error) {
	if len(args) < 3 {
		return nil, fmt.Errorf("%d arguments, want at least 3", len(args))
	}
	if _, ok := args[0].(*tensor); !ok {
		return nil, fmt.Errorf("data is a %T, not a tensor", args[0])
	}
	return args[0], nil
}

func ints(v any) ([]int, error) {
	var xs []any
	switch t := v.(type) {
	case *types.Tuple:
		xs = *t
	case *types.List:
		xs = *t
	default:
		return nil, fmt.Errorf("a %T, not a tuple", v)
	}
	out := make([]int, len(xs))
	for i, x := range xs {
		n, ok := x.(int)
		if !ok || n < 0 {
			return nil, fmt.Errorf("element %d is %v, not a non-negative int", i, x)
		}
		out[i] = n
	}
	return out, nil
}

// orderedDict is collections.OrderedDict: OrderedDict() as Python 3
// pickles it (items follow as SETITEMS) and OrderedDict(items) as Python 2
// does.
type orderedDict struct{}

func (orderedDict) Call(args ...any) (any, error) {
	d := types.NewOrderedDict()
	if len(args) == 0 {
		return d, nil
	}
	if len(args) > 1 {
		return nil, fmt.Errorf("OrderedDict: %d arguments, want at most 1", len(args))
	}
	var items []any
	switch t := args[0].(type) {
	case *types.List:
		items = *t
	case *types.Tuple:
		items = *t
	default:
		return nil, fmt.Errorf("OrderedDict: items are a %T, not a list", args[0])
	}
	for i, it := range items {
		var kv []any
		switch p := it.(type) {
		case *types.List:
			kv = *p
		case *types.Tuple:
			kv = *p
		}
		if len(kv) != 2 {
			return nil, fmt.Errorf("OrderedDict: item %d is not a (key, value) pair", i)
		}
		d.Set(kv[0], kv[1])
	}
	return d, nil
}

// py2OrderedDict and its stand-in: gopickle v0.2.0 resolves
// collections.OrderedDict itself, before FindClass, to a constructor that
// accepts no arguments, while Python 2.7 pickles an OrderedDict as
// REDUCE(OrderedDict, ([[k, v], …],)) — every module of ODIN's files. The
// GLOBAL opcode naming it is rewritten, in a copy of the pickle's bytes, to a
// module name no Python module can have, which FindClass resolves to
// orderedDict. The stand-in has the same length, so every offset stays;
// storage bytes are never rewritten (only the pickle's bytes are copied).
const (
	py2OrderedDict = "ccollections\nOrderedDict\n"
	standInModule  = "\x00ollections"
)

var standInOrderedDict = "c" + standInModule + "\nOrderedDict\n"

func rewriteOrderedDict(b []byte) []byte {
	if !bytes.Contains(b, []byte(py2OrderedDict)) { // then b is not copied
		return b
	}
	return bytes.ReplaceAll(b, []byte(py2OrderedDict), []byte(standInOrderedDict))
}

// findClass resolves every name a pickle gives (GLOBAL, STACK_GLOBAL, INST)
// to a Go value: the few constructors of data PyTorch files need, else an
// inert class record. It never fails, so an unknown class is never an error
// by itself; what the records are used for is checked when tensors are named.
func findClass(module, name string) (any, error) {
	full := module + "." + name
	switch full {
	case "torch._utils._rebuild_tensor":
		return &rebuilder{name: full, build: rebuildTensor(4)}, nil
	case "torch._utils._rebuild_tensor_v2":
		return &rebuilder{name: full, build: rebuildTensor(6)}, nil
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		return &rebuilder{name: full, build: rebuildParameter}, nil
	case standInModule + ".OrderedDict", "collections.OrderedDict":
		return orderedDict{}, nil
	case "builtins.object":
		return &types.ObjectClass{}, nil
	case "copyreg._reconstructor":
		return &types.Reconstructor{}, nil
	}
	if module == "torch" || module == "torch.cuda" {
		if dt, ok := storageTypes[name]; ok {
			return &storageClass{dt: dt}, nil
		}
	}
	return &class{module: module, name: name}, nil
}

// unpickle decodes the pickle at the start of b with gopickle and returns
// it and its length. Its opcodes are scanned first (scanPickle), so gopickle
// only ever sees a whole pickle whose lengths fit; a panic inside the decoder
// (gopickle v0.2.0 indexes out of range on some malformed input, such as
// SETITEMS with an odd number of items) becomes an error.
func (f *File) unpickle(b []byte, what string, persistent func(any) (any, error)) (v any, n int, err error) {
	n, err = scanPickle(b)
	if err != nil {
		return nil, 0, f.fail(ErrCorrupt, "%s: %v", what, err)
	}
	u := pickle.NewUnpickler(bytes.NewReader(rewriteOrderedDict(b[:n])))
	u.FindClass = findClass
	u.PersistentLoad = persistent
	defer func() {
		if p := recover(); p != nil {
			v, n, err = nil, 0, f.fail(ErrCorrupt, "%s: the pickle decoder failed: %v", what, p)
		}
	}()
	if v, err = u.Load(); err != nil {
		return nil, 0, f.fail(ErrCorrupt, "%s: %v", what, err)
	}
	return v, n, nil
}

// storages collects the storages a pickle refers to, in first-use order.
type storages struct {
	byKey map[string]*storage
	list  []*storage
	views map[string]*storage // legacy views by their own key
}

func newStorages() *storages { return &storages{byKey: map[string]*storage{}} }

// get returns the storage a persistent id ('storage', storage_type, key,
// location, numel, …) names, made on first use.
func (s *storages) get(t *types.Tuple) (*storage, error) {
	if t.Len() < 5 {
		return nil, fmt.Errorf("storage id of %d fields, want at least 5", t.Len())
	}
	sc, ok1 := t.Get(1).(*storageClass)
	key, ok2 := t.Get(2).(string)
	loc, ok3 := t.Get(3).(string)
	numel, ok4 := t.Get(4).(int)
	if !ok1 || !ok2 || !ok3 || !ok4 || numel < 0 {
		return nil, fmt.Errorf("storage id %v: want (type, key, location, numel)", *t)
	}
	if numel > MaxBytes/sc.dt.size {
		return nil, fmt.Errorf("storage %s claims %d elements", key, numel)
	}
	if st, ok := s.byKey[key]; ok {
		if st.dt.name != sc.dt.name || st.numel != numel {
			return nil, fmt.Errorf("storage %s is declared twice differently", key)
		}
		return st, nil
	}
	st := &storage{dt: sc.dt, key: key, location: loc, numel: numel}
	s.byKey[key] = st
	s.list = append(s.list, st)
	return st, nil
}

func idTuple(id any) (*types.Tuple, string, error) {
	t, ok := id.(*types.Tuple)
	if !ok || t.Len() == 0 {
		return nil, "", fmt.Errorf("persistent id %v is not a tuple", id)
	}
	kind, ok := t.Get(0).(string)
	if !ok {
		return nil, "", fmt.Errorf("persistent id %v has no type name", id)
	}
	return t, kind, nil
}

// legacyID is the legacy format's persistent_load: ('storage', type, key,
// location, numel, view_metadata) or ('module', class, source_file,
// source), whose class is what the module is made from (source is ignored).
func (s *storages) legacyID(id any) (any, error) {
	t, kind, err := idTuple(id)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "module":
		if t.Len() < 2 {
			return nil, fmt.Errorf("module id without a class")
		}
		return t.Get(1), nil
	case "storage":
		st, err := s.get(t)
		if err != nil {
			return nil, err
		}
		if t.Len() < 6 || t.Get(5) == nil {
			return st, nil
		}
		// view_metadata (view_key, offset, view_size) of PyTorch < 0.4.
		vm, ok := t.Get(5).(*types.Tuple)
		if !ok || vm.Len() != 3 {
			return nil, fmt.Errorf("storage %s: view metadata %v", st.key, t.Get(5))
		}
		vkey, ok1 := vm.Get(0).(string)
		off, ok2 := vm.Get(1).(int)
		n, ok3 := vm.Get(2).(int)
		if !ok1 || !ok2 || !ok3 || off < 0 || n < 0 || off+n > st.numel {
			return nil, fmt.Errorf("storage %s: view metadata %v", st.key, *vm)
		}
		if v, ok := s.views[vkey]; ok {
			return v, nil
		}
		v := &storage{dt: st.dt, key: vkey, location: st.location, numel: n, base: st, offset: off}
		if s.views == nil {
			s.views = map[string]*storage{}
		}
		s.views[vkey] = v
		return v, nil
	}
	return nil, fmt.Errorf("persistent id of unknown type %q", kind)
}

func (f *File) readLegacy(b []byte) (any, error) {
	off := len(legacyMagic)
	v, n, err := f.unpickle(b[off:], "protocol version", nil)
	if err != nil {
		return nil, err
	}
	if v != 1001 {
		return nil, f.fail(ErrCorrupt, "legacy protocol version %v, want 1001", v)
	}
	off += n
	info, n, err := f.unpickle(b[off:], "system info", nil)
	if err != nil {
		return nil, err
	}
	off += n
	if es, ok := entries(info); ok {
		for _, e := range es {
			if e.key == "little_endian" && e.value != true {
				return nil, f.fail(ErrCorrupt, "saved on a big-endian machine; not supported")
			}
		}
	}
	st := newStorages()
	obj, n, err := f.unpickle(b[off:], "the pickled object", st.legacyID)
	if err != nil {
		return nil, err
	}
	off += n
	keys, n, err := f.unpickle(b[off:], "storage keys", nil)
	if err != nil {
		return nil, err
	}
	off += n
	list, ok := keys.(*types.List)
	if !ok {
		return nil, f.fail(ErrCorrupt, "storage keys are a %T, not a list", keys)
	}
	for _, k := range *list {
		key, ok := k.(string)
		s := st.byKey[key]
		if !ok || s == nil {
			return nil, f.fail(ErrCorrupt, "storage key %v is not used by the pickle", k)
		}
		if s.raw != nil {
			return nil, f.fail(ErrCorrupt, "storage %s is listed twice", key)
		}
		if len(b)-off < 8 {
			return nil, f.fail(ErrCorrupt, "truncated: the file ends (%d bytes) before storage %s", len(b), key)
		}
		numel := binary.LittleEndian.Uint64(b[off:])
		if numel != uint64(s.numel) {
			return nil, f.fail(ErrCorrupt, "storage %s has %d elements on disk, the pickle says %d", key, numel, s.numel)
		}
		need := s.numel * s.dt.size
		if len(b)-off-8 < need {
			return nil, f.fail(ErrCorrupt, "truncated: storage %s needs %d bytes at offset %d, the file ends at %d", key, need, off+8, len(b))
		}
		s.raw = b[off+8 : off+8+need]
		off += 8 + need
	}
	if off != len(b) {
		return nil, f.fail(ErrCorrupt, "%d bytes after the last storage", len(b)-off)
	}
	for _, s := range st.list {
		if s.raw == nil {
			return nil, f.fail(ErrCorrupt, "storage %s has no data (not in the storage keys)", s.key)
		}
	}
	return obj, nil
}

func (f *File) readZip(b []byte) (any, error) {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, f.fail(ErrCorrupt, "zip (truncated or damaged): %v", err)
	}
	records := map[string]*zip.File{}
	prefix := ""
	for _, zf := range zr.File {
		records[zf.Name] = zf
		if path.Base(zf.Name) == "data.pkl" && strings.Count(zf.Name, "/") == 1 {
			prefix = path.Dir(zf.Name) + "/"
		}
	}
	if prefix == "" {
		return nil, f.fail(ErrNotTorch, "a zip archive without a top-level FOLDER/data.pkl")
	}
	if _, ok := records[prefix+"constants.pkl"]; ok {
		return nil, f.fail(ErrCorrupt, "a TorchScript archive (torch.jit.save); save the state dict with torch.save instead")
	}
	read := func(name string) ([]byte, error) {
		zf := records[name]
		rc, err := zf.Open()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		data, err := io.ReadAll(io.LimitReader(rc, MaxBytes+1))
		if err != nil {
			return nil, err
		}
		if len(data) > MaxBytes {
			return nil, fmt.Errorf("larger than %d bytes", MaxBytes)
		}
		return data, nil
	}
	if _, ok := records[prefix+"byteorder"]; ok {
		bo, err := read(prefix + "byteorder")
		if err != nil {
			return nil, f.fail(ErrCorrupt, "record %sbyteorder: %v", prefix, err)
		}
		if string(bo) != "little" {
			return nil, f.fail(ErrCorrupt, "byte order %q; only little-endian files are supported", bo)
		}
	}
	pkl, err := read(prefix + "data.pkl")
	if err != nil {
		return nil, f.fail(ErrCorrupt, "record %sdata.pkl: %v", prefix, err)
	}
	st := newStorages()
	obj, n, err := f.unpickle(pkl, prefix+"data.pkl", func(id any) (any, error) {
		t, kind, err := idTuple(id)
		if err != nil {
			return nil, err
		}
		if kind != "storage" {
			return nil, fmt.Errorf("persistent id of unknown type %q", kind)
		}
		return st.get(t)
	})
	if err != nil {
		return nil, err
	}
	if n != len(pkl) {
		return nil, f.fail(ErrCorrupt, "%d bytes after the pickle in %sdata.pkl", len(pkl)-n, prefix)
	}
	for _, s := range st.list {
		name := prefix + "data/" + s.key
		if records[name] == nil {
			return nil, f.fail(ErrCorrupt, "record %s of storage %s is missing", name, s.key)
		}
		data, err := read(name)
		if err != nil {
			return nil, f.fail(ErrCorrupt, "record %s: %v", name, err)
		}
		if len(data) != s.numel*s.dt.size {
			return nil, f.fail(ErrCorrupt, "record %s has %d bytes, storage %s of %d %s needs %d", name, len(data), s.key, s.numel, s.dt.name, s.numel*s.dt.size)
		}
		s.raw = data
	}
	return obj, nil
}
