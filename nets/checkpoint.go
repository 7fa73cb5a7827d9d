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
// fine-tuning, issue 32): further models of the same architecture (the
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
	bad := func(format string, args ...any) (*Model, State, error) {
		return nil, State{}, fmt.Errorf("checkpoint %s: %s: %w", path, fmt.Sprintf(format, args...), ErrCheckpoint)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, State{}, fmt.Errorf("checkpoint: %w", err)
	}
	if len(raw) < len(checkpointMagic)+8+sha256.Size || string(raw[:len(checkpointMagic)]) != checkpointMagic {
		return bad("not an mcdood checkpoint (no %q header)", checkpointMagic[:11])
	}
	body, tail := raw[:len(raw)-sha256.Size], raw[len(raw)-sha256.Size:]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], tail) {
		return bad("checksum mismatch (file truncated or corrupt, %d bytes)", len(raw))
	}
	off := len(checkpointMagic)
	version := binary.LittleEndian.Uint32(body[off:])
	n := int(binary.LittleEndian.Uint32(body[off+4:]))
	off += 8
	if version < 1 || version > checkpointVersion {
		return bad("format version %d, this program reads versions 1 to %d", version, checkpointVersion)
	}
	if n > len(body)-off {
		return bad("header length %d exceeds the file", n)
	}
	var h checkpointHeader
	if err := json.Unmarshal(body[off:off+n], &h); err != nil {
		return bad("header: %v", err)
	}
	off += n
	if version == 1 && (len(h.Models) > 0 || h.Payload != 0) {
		return bad("further models or a payload in a version 1 file")
	}
	spec, err := ParseSpec(h.Spec.Name)
	if err != nil {
		return bad("architecture: %v", err)
	}
	spec.Dropout = h.Spec.Dropout
	if spec != h.Spec {
		return bad("architecture %+v does not match its name %q", h.Spec, h.Spec.Name)
	}
	m, err := New(spec, h.Classes, 0)
	if err != nil {
		return bad("%v", err)
	}
	st := State{Epoch: h.Epoch, Meta: h.Meta}
	if h.Optimizer != nil {
		st.SGD = NewSGD(h.Optimizer.Momentum, h.Optimizer.WeightDecay, h.Optimizer.Nesterov)
	}
	models := map[string]*Model{"": m}
	for _, name := range h.Models {
		if _, dup := models[name]; dup {
			return bad("further model %q is empty or listed twice", name)
		}
		if models[name], err = New(spec, h.Classes, 0); err != nil {
			return bad("%v", err)
		}
	}
	if len(h.Models) > 0 {
		st.Models = map[string]*Model{}
		for _, name := range h.Models {
			st.Models[name] = models[name]
		}
	}
	seen := map[string]bool{}
	for _, e := range h.Tensors {
		x, ok := models[e.Model]
		if !ok {
			return bad("tensor %s (%s) of further model %q, which the header does not list", e.Name, e.Kind, e.Model)
		}
		size := 1
		for _, d := range e.Shape {
			size *= d
		}
		if size*4 > len(body)-off {
			return bad("tensor %s (%s) runs past the end of the data", e.Name, e.Kind)
		}
		var dst []float32
		switch e.Kind {
		case "param", "velocity":
			p, ok := x.byName[e.Name]
			if !ok {
				return bad("parameter %s does not exist in %s", e.Name, spec.Name)
			}
			if want := p.Value.Shape(); !want.Eq(tensor.Shape(e.Shape)) {
				return bad("parameter %s has shape %v, %s wants %v", e.Name, e.Shape, spec.Name, want)
			}
			if e.Kind == "param" {
				dst = p.Data()
			} else {
				if e.Model != "" {
					return bad("velocity of %s in further model %q", e.Name, e.Model)
				}
				if st.SGD == nil {
					return bad("velocity of %s without optimiser settings", e.Name)
				}
				dst = make([]float32, size)
				st.SGD.velocity[e.Name] = dst
			}
		case "bn-mean", "bn-var":
			s, ok := x.bn[e.Name]
			if !ok || len(s.Mean) != size {
				return bad("batch-norm layer %s with %d channels does not exist in %s", e.Name, size, spec.Name)
			}
			dst = s.Mean
			if e.Kind == "bn-var" {
				dst = s.Var
			}
		default:
			return bad("tensor %s has unknown kind %q", e.Name, e.Kind)
		}
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[off+4*i:]))
		}
		off += 4 * size
		seen[e.Model+"/"+e.Kind+" "+e.Name] = true
	}
	if h.Payload < 0 || h.Payload > len(body)-off {
		return bad("payload of %d bytes, %d left after the tensors", h.Payload, len(body)-off)
	}
	if h.Payload > 0 {
		st.Payload = slices.Clone(body[off : off+h.Payload])
		off += h.Payload
	}
	if off != len(body) {
		return bad("%d bytes after the last tensor", len(body)-off)
	}
	for name, x := range models {
		of := ""
		if name != "" {
			of = fmt.Sprintf(" of further model %q", name)
		}
		for _, p := range x.params {
			if !seen[name+"/param "+p.Name] {
				return bad("parameter %s%s is missing", p.Name, of)
			}
		}
		for bn := range x.bn {
			if !seen[name+"/bn-mean "+bn] || !seen[name+"/bn-var "+bn] {
				return bad("batch-norm statistics of %s%s are missing", bn, of)
			}
		}
	}
	return m, st, nil
}
