package nets

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"

	"github.com/mcdood/mcdood/internal/atomicfile"
	"gorgonia.org/tensor"
)

// Checkpoint file layout, little-endian:
//
//	"MCDOOD-CKPT\n"                 12-byte magic
//	uint32 version, uint32 n        format version (1 or 2), header length
//	header                          n bytes of JSON: checkpointHeader
//	float32 × Σ tensor sizes        every tensor, in header order
//	payload                         version 2: header.payload bytes (State.Payload)
//	sha256                          32 bytes over everything above
//
// Version 2 adds what a training loop that is not pre-training keeps (MCD's
// resumable fine-tuning): further models of the same architecture (the
// tensors of one carry its name in "model"; the main model's have none) and
// an opaque payload of the caller's own state. A checkpoint without either
// is written as version 1, byte for byte as before, so pre-training's
// checkpoints are unchanged; both versions are read.
//
// Written atomically; a truncated, corrupt or foreign file is an error that
// names the file and what was wrong, never a half-loaded model.
const (
	checkpointMagic   = "MCDOOD-CKPT\n"
	checkpointVersion = 2
)

// ErrCheckpoint marks a checkpoint that cannot be used (corrupt, truncated,
// other version or architecture).
var ErrCheckpoint = errors.New("bad checkpoint")

type checkpointHeader struct {
	Spec      Spec              `json:"spec"`
	Classes   int               `json:"classes"`
	Epoch     int               `json:"epoch"`
	Meta      map[string]string `json:"meta,omitempty"`
	Optimizer *optimizerState   `json:"optimizer,omitempty"`
	Tensors   []tensorEntry     `json:"tensors"`
	// Version 2.
	Models  []string `json:"models,omitempty"`  // names of the further models, sorted
	Payload int      `json:"payload,omitempty"` // bytes of payload after the tensors
}

type optimizerState struct {
	Momentum    float64 `json:"momentum"`
	WeightDecay float64 `json:"weight_decay"`
	Nesterov    bool    `json:"nesterov"`
}

type tensorEntry struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"` // param, bn-mean, bn-var, velocity
	Shape []int  `json:"shape"`
	Model string `json:"model,omitempty"` // version 2: the further model it belongs to
}

// State is what a checkpoint holds besides the model.
type State struct {
	Epoch int               // completed training epochs
	Meta  map[string]string // free-form provenance (recipe hash, data set, seed...)
	SGD   *SGD              // optimiser with its velocities; nil if none was saved
	// Models are further models of the checkpoint's architecture and
	// classes, by name (MCD keeps its best epoch's): their parameters and
	// batch-norm statistics.
	Models map[string]*Model
	// Payload is the caller's own state (a loop's samplers and history),
	// stored as given and covered by the checksum.
	Payload []byte
}

// SaveCheckpoint writes the model (parameters and BN statistics), the
// optimiser state, any further models and the payload to path atomically.
func SaveCheckpoint(path string, m *Model, st State) error {
	h := checkpointHeader{Spec: m.Spec, Classes: m.Classes, Epoch: st.Epoch, Meta: st.Meta, Payload: len(st.Payload)}
	var data [][]float32
	add := func(model, name, kind string, shape []int, v []float32) {
		h.Tensors = append(h.Tensors, tensorEntry{Name: name, Kind: kind, Shape: shape, Model: model})
		data = append(data, v)
	}
	addModel := func(model string, x *Model) {
		for _, p := range x.params {
			add(model, p.Name, "param", p.Value.Shape().Clone(), p.Data())
		}
		for _, name := range x.sortedBN() {
			s := x.bn[name]
			add(model, name, "bn-mean", []int{len(s.Mean)}, s.Mean)
			add(model, name, "bn-var", []int{len(s.Var)}, s.Var)
		}
	}
	addModel("", m)
	if st.SGD != nil {
		h.Optimizer = &optimizerState{Momentum: st.SGD.Momentum, WeightDecay: st.SGD.WeightDecay, Nesterov: st.SGD.Nesterov}
		for _, p := range m.params {
			if v := st.SGD.velocity[p.Name]; v != nil {
				add("", p.Name, "velocity", p.Value.Shape().Clone(), v)
			}
		}
	}
	h.Models = slices.Sorted(maps.Keys(st.Models))
	for _, name := range h.Models {
		x := st.Models[name]
		if name == "" || x == nil || x.Spec != m.Spec || x.Classes != m.Classes {
			return fmt.Errorf("checkpoint %s: further model %q must be a %s with %d classes", path, name, m.Spec.Name, m.Classes)
		}
		addModel(name, x)
	}
	version := uint32(1)
	if len(h.Models) > 0 || len(st.Payload) > 0 {
		version = checkpointVersion
	}
	hdr, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		sum := sha256.New()
		out := io.MultiWriter(w, sum)
		var buf bytes.Buffer
		buf.WriteString(checkpointMagic)
		binary.Write(&buf, binary.LittleEndian, version)
		binary.Write(&buf, binary.LittleEndian, uint32(len(hdr)))
		buf.Write(hdr)
		if _, err := out.Write(buf.Bytes()); err != nil {
			return err
		}
		raw := make([]byte, 0, 1<<16)
		for _, v := range data {
			for i := 0; i < len(v); i += 1 << 14 {
				raw = raw[:0]
				for _, f := range v[i:min(i+1<<14, len(v))] {
					raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(f))
				}
				if _, err := out.Write(raw); err != nil {
					return err
				}
			}
		}
		if _, err := out.Write(st.Payload); err != nil {
			return err
		}
		_, err := w.Write(sum.Sum(nil))
		return err
	})
}

// LoadCheckpoint reads a checkpoint into a new model (and new further
// models). The file's checksum, format version and every tensor's name and
// shape are verified first.
func LoadCheckpoint(path string) (*Model, State, error) {
	h, data, err := readCheckpointHeader(path)
	if err != nil {
		return nil, State{}, err
	}
	r := &checkpointReader{path: path, data: data, seen: map[string]bool{}}
	st, err := r.allocate(h)
	if err != nil {
		return nil, State{}, err
	}
	for _, e := range h.Tensors {
		if err := r.tensor(e, &st); err != nil {
			return nil, State{}, err
		}
	}
	if h.Payload < 0 || h.Payload > len(r.data)-r.off {
		return nil, State{}, r.bad("payload of %d bytes, %d left after the tensors", h.Payload, len(r.data)-r.off)
	}
	if h.Payload > 0 {
		st.Payload = slices.Clone(r.data[r.off : r.off+h.Payload])
		r.off += h.Payload
	}
	if r.off != len(r.data) {
		return nil, State{}, r.bad("%d bytes after the last tensor", len(r.data)-r.off)
	}
	if err := r.complete(); err != nil {
		return nil, State{}, err
	}
	return r.models[""], st, nil
}

// badCheckpoint is the error of the checkpoint at path that cannot be used.
func badCheckpoint(path, format string, args ...any) error {
	return fmt.Errorf("checkpoint %s: %s: %w", path, fmt.Sprintf(format, args...), ErrCheckpoint)
}

// readCheckpointHeader reads the file at path, verifies its magic, checksum
// and format version, and decodes its header; data is what follows the
// header, the checksum left out.
func readCheckpointHeader(path string) (h checkpointHeader, data []byte, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return h, nil, fmt.Errorf("checkpoint: %w", err)
	}
	if len(raw) < len(checkpointMagic)+8+sha256.Size || string(raw[:len(checkpointMagic)]) != checkpointMagic {
		return h, nil, badCheckpoint(path, "not an mcdood checkpoint (no %q header)", checkpointMagic[:11])
	}
	body, tail := raw[:len(raw)-sha256.Size], raw[len(raw)-sha256.Size:]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], tail) {
		return h, nil, badCheckpoint(path, "checksum mismatch (file truncated or corrupt, %d bytes)", len(raw))
	}
	off := len(checkpointMagic)
	version := binary.LittleEndian.Uint32(body[off:])
	n := int(binary.LittleEndian.Uint32(body[off+4:]))
	off += 8
	if version < 1 || version > checkpointVersion {
		return h, nil, badCheckpoint(path, "format version %d, this program reads versions 1 to %d", version, checkpointVersion)
	}
	if n > len(body)-off {
		return h, nil, badCheckpoint(path, "header length %d exceeds the file", n)
	}
	if err := json.Unmarshal(body[off:off+n], &h); err != nil {
		return h, nil, badCheckpoint(path, "header: %v", err)
	}
	if version == 1 && (len(h.Models) > 0 || h.Payload != 0) {
		return h, nil, badCheckpoint(path, "further models or a payload in a version 1 file")
	}
	return h, body[off+n:], nil
}

// checkpointReader decodes a checkpoint's tensors, after its header, into
// the models the header describes.
type checkpointReader struct {
	path   string
	data   []byte // after the header: tensors, payload
	off    int    // read so far
	spec   Spec
	models map[string]*Model // the main model is ""
	seen   map[string]bool   // tensors read: "model/kind name"
}

func (r *checkpointReader) bad(format string, args ...any) error {
	return badCheckpoint(r.path, format, args...)
}

// allocate makes the header's models, new and to be filled, and the state
// with its optimiser settings.
func (r *checkpointReader) allocate(h checkpointHeader) (State, error) {
	spec, err := ParseSpec(h.Spec.Name)
	if err != nil {
		return State{}, r.bad("architecture: %v", err)
	}
	spec.Dropout = h.Spec.Dropout
	if spec != h.Spec {
		return State{}, r.bad("architecture %+v does not match its name %q", h.Spec, h.Spec.Name)
	}
	r.spec = spec
	m, err := New(spec, h.Classes, 0)
	if err != nil {
		return State{}, r.bad("%v", err)
	}
	st := State{Epoch: h.Epoch, Meta: h.Meta}
	if h.Optimizer != nil {
		st.SGD = NewSGD(h.Optimizer.Momentum, h.Optimizer.WeightDecay, h.Optimizer.Nesterov)
	}
	r.models = map[string]*Model{"": m}
	for _, name := range h.Models {
		if _, dup := r.models[name]; dup {
			return State{}, r.bad("further model %q is empty or listed twice", name)
		}
		if r.models[name], err = New(spec, h.Classes, 0); err != nil {
			return State{}, r.bad("%v", err)
		}
	}
	if len(h.Models) > 0 {
		st.Models = map[string]*Model{}
		for _, name := range h.Models {
			st.Models[name] = r.models[name]
		}
	}
	return st, nil
}

// tensor reads the next tensor into the parameter, batch-norm statistic or
// momentum buffer (st.SGD) its entry names.
func (r *checkpointReader) tensor(e tensorEntry, st *State) error {
	x, ok := r.models[e.Model]
	if !ok {
		return r.bad("tensor %s (%s) of further model %q, which the header does not list", e.Name, e.Kind, e.Model)
	}
	size := 1
	for _, d := range e.Shape {
		size *= d
	}
	if size*4 > len(r.data)-r.off {
		return r.bad("tensor %s (%s) runs past the end of the data", e.Name, e.Kind)
	}
	var dst []float32
	switch e.Kind {
	case "param", "velocity":
		p, ok := x.byName[e.Name]
		if !ok {
			return r.bad("parameter %s does not exist in %s", e.Name, r.spec.Name)
		}
		if want := p.Value.Shape(); !want.Eq(tensor.Shape(e.Shape)) {
			return r.bad("parameter %s has shape %v, %s wants %v", e.Name, e.Shape, r.spec.Name, want)
		}
		if e.Kind == "param" {
			dst = p.Data()
		} else {
			if e.Model != "" {
				return r.bad("velocity of %s in further model %q", e.Name, e.Model)
			}
			if st.SGD == nil {
				return r.bad("velocity of %s without optimiser settings", e.Name)
			}
			dst = make([]float32, size)
			st.SGD.velocity[e.Name] = dst
		}
	case "bn-mean", "bn-var":
		s, ok := x.bn[e.Name]
		if !ok || len(s.Mean) != size {
			return r.bad("batch-norm layer %s with %d channels does not exist in %s", e.Name, size, r.spec.Name)
		}
		dst = s.Mean
		if e.Kind == "bn-var" {
			dst = s.Var
		}
	default:
		return r.bad("tensor %s has unknown kind %q", e.Name, e.Kind)
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(r.data[r.off+4*i:]))
	}
	r.off += 4 * size
	r.seen[e.Model+"/"+e.Kind+" "+e.Name] = true
	return nil
}

// complete checks that every parameter and batch-norm statistic of every
// model was read.
func (r *checkpointReader) complete() error {
	for name, x := range r.models {
		of := ""
		if name != "" {
			of = fmt.Sprintf(" of further model %q", name)
		}
		for _, p := range x.params {
			if !r.seen[name+"/param "+p.Name] {
				return r.bad("parameter %s%s is missing", p.Name, of)
			}
		}
		for bn := range x.bn {
			if !r.seen[name+"/bn-mean "+bn] || !r.seen[name+"/bn-var "+bn] {
				return r.bad("batch-norm statistics of %s%s are missing", bn, of)
			}
		}
	}
	return nil
}
