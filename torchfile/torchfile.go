// Package torchfile reads the tensors of a PyTorch file (what torch.save
// writes) without Python: the published networks the project scores (ODIN's
// DenseNets, Liang et al., ICLR 2018; a CIFAR ResNet-56 of
// akamaster/pytorch_resnet_cifar10) are PyTorch files. It knows nothing of
// networks or of gorgonia; package nets maps the named tensors into a model.
//
// Formats read (PyTorch's torch/serialization.py):
//
//   - the legacy format (PyTorch < 1.6, and later with
//     _use_new_zipfile_serialization=False): five pickles back to back (magic
//     number, protocol version 1001, system info, the object, the storage
//     keys) followed by each storage's element count (int64) and raw
//     little-endian data;
//   - the zip format (PyTorch ≥ 1.6): archive/data.pkl plus one record per
//     storage, archive/data/KEY;
//   - either one inside a .tar.gz (or .gz, or .tar), read in place, as ODIN
//     released densenet10.pth.tar.gz.
//
// The object may be a whole pickled nn.Module (ODIN's files: class
// densenet.DenseNet3, saved under Python 2.7 with tensors tagged cuda:0), a
// state dict (an OrderedDict of tensors), or a dict holding one under
// "state_dict" (akamaster's files, keys prefixed "module."). Tensors come out
// named as module.state_dict() would name them, in that order, converted to
// float32.
//
// # Nothing in a file is executed
//
// Pickles are decoded by github.com/nlpodyssey/gopickle's unpickler, never by
// Python. A pickle names classes and functions (GLOBAL opcodes); here every
// name resolves to a Go value from a fixed table — the tensor rebuilders
// (torch._utils._rebuild_tensor, _rebuild_tensor_v2, _rebuild_parameter), the
// storage types (torch.FloatStorage …), OrderedDict — or, for every other
// name (densenet.DenseNet3, torch.nn.modules.conv.Conv2d, os.system …), to an
// inert record of its module and name. Calling or instantiating a record
// only stores the arguments and the state the pickle gives it, which is how
// a whole pickled model becomes a tree of records with named parameters.
//
// # Why not gopickle's pytorch package
//
// Its Load takes a file name (no reader, so no .tar.gz in place), panics on a
// tar file and on storage views, does not know the Python 2 pickles of
// PyTorch < 0.4 (torch._utils._rebuild_tensor; OrderedDict pickled with its
// items as arguments), and allocates whatever element count a storage claims
// before reading it. The container (the five pickles and the storages, the
// zip records) is small and written here with bounds checks; the pickle
// decoding, the hard part, is gopickle's.
package torchfile

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// ErrNotTorch is matched (errors.Is) by errors for a file that is not a
// PyTorch file at all (no legacy magic number, not a torch zip archive).
var ErrNotTorch = errors.New("not a PyTorch file")

// ErrCorrupt is matched by errors for a PyTorch file that is truncated or
// damaged, or holds something this package cannot turn into named tensors.
var ErrCorrupt = errors.New("corrupt or unreadable PyTorch file")

// MaxBytes bounds the bytes read from a file or decompressed from an archive
// member (4 GiB): a published CIFAR network is a few MB.
const MaxBytes = 4 << 30

// Tensor is one named tensor of a file.
type Tensor struct {
	Name  string
	Shape []int  // () for a scalar
	DType string // the stored element type: float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool
	// Data are the elements in row-major order, converted to float32.
	Data []float32
	// Location is the device the tensor was saved from ("cpu", "cuda:0");
	// it is only recorded.
	Location string
}

// Len is the number of elements.
func (t *Tensor) Len() int { return len(t.Data) }

// Module is one module of a whole pickled model: its class and its
// attributes that are plain numbers or booleans (a BatchNorm2d's eps and
// momentum, a Conv2d's in_channels …; booleans as 0 and 1).
type Module struct {
	Class string // module.name, e.g. torch.nn.modules.batchnorm.BatchNorm2d
	Attrs map[string]float64
}

// File is what Load read.
type File struct {
	Path   string // the file as given to Load
	SHA256 string // hex sha256 of the bytes at Path (the archive, for an archive)
	// Member is the archive member holding the PyTorch file, and
	// MemberSHA256 its sha256; both empty when Path is the PyTorch file.
	Member       string
	MemberSHA256 string
	Format       string // "legacy" or "zip"
	// Object says what the file pickled: "model" (a whole nn.Module),
	// "state_dict", or "checkpoint" (a dict holding a "state_dict").
	Object string
	// Class is the model's class (module.name) when Object is "model".
	Class   string
	Tensors []Tensor
	// Modules are the modules of a whole pickled model by their state-dict
	// prefix ("" for the model, "block1.layer.0.bn1" …); nil otherwise.
	Modules map[string]Module
	// Meta holds the checkpoint dict's other entries that are plain
	// numbers, strings or booleans (akamaster's best_prec1), formatted.
	Meta map[string]string
}

// Tensor returns the tensor called name.
func (f *File) Tensor(name string) (*Tensor, bool) {
	for i := range f.Tensors {
		if f.Tensors[i].Name == name {
			return &f.Tensors[i], true
		}
	}
	return nil, false
}

// Describe names the file for messages: the path, and the member read from
// an archive.
func (f *File) Describe() string {
	if f.Member != "" {
		return f.Path + " (" + f.Member + ")"
	}
	return f.Path
}

// Load reads the PyTorch file at path, or the one PyTorch file inside the
// .tar.gz, .gz or .tar archive at path.
func Load(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("torch file: %w", err)
	}
	defer fh.Close()
	raw, err := io.ReadAll(io.LimitReader(fh, MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("torch file %s: %w", path, err)
	}
	if len(raw) > MaxBytes {
		return nil, fmt.Errorf("torch file %s: larger than %d bytes: %w", path, MaxBytes, ErrCorrupt)
	}
	return Parse(path, raw)
}

// Parse is Load on the bytes of a file; name is used in messages.
func Parse(name string, raw []byte) (*File, error) {
	sum := sha256.Sum256(raw)
	f := &File{Path: name, SHA256: hex.EncodeToString(sum[:])}
	body, err := f.unwrap(raw)
	if err != nil {
		return nil, err
	}
	if err := f.parse(body); err != nil {
		return nil, err
	}
	return f, nil
}

// fail makes an error naming the file (and member) that matches kind.
func (f *File) fail(kind error, format string, args ...any) error {
	return fmt.Errorf("torch file %s: %s: %w", f.Describe(), fmt.Sprintf(format, args...), kind)
}

// legacyMagic is how both Python 2 and 3 pickle the legacy format's magic
// number 0x1950a86a20f9469cfc6c at protocol 2: PROTO 2, LONG1 of 10 bytes,
// STOP.
var legacyMagic = []byte("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.")

func isZip(b []byte) bool    { return bytes.HasPrefix(b, []byte("PK\x03\x04")) }
func isGzip(b []byte) bool   { return bytes.HasPrefix(b, []byte{0x1f, 0x8b}) }
func isTar(b []byte) bool    { return len(b) >= 263 && string(b[257:262]) == "ustar" }
func isLegacy(b []byte) bool { return bytes.HasPrefix(b, legacyMagic) }

// unwrap returns the PyTorch file inside raw: raw itself, or the one
// PyTorch file of a (gzipped) tar archive, or a gzipped file.
func (f *File) unwrap(raw []byte) ([]byte, error) {
	if isLegacy(raw) || isZip(raw) {
		return raw, nil
	}
	body := raw
	gz := isGzip(raw)
	if gz {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, f.fail(ErrCorrupt, "gzip: %v", err)
		}
		body, err = io.ReadAll(io.LimitReader(zr, MaxBytes+1))
		if err != nil {
			return nil, f.fail(ErrCorrupt, "gzip (truncated or damaged archive): %v", err)
		}
		if len(body) > MaxBytes {
			return nil, f.fail(ErrCorrupt, "decompresses to more than %d bytes", MaxBytes)
		}
	}
	if !isTar(body) {
		if gz && (isLegacy(body) || isZip(body)) {
			f.Member = strings.TrimSuffix(path.Base(f.Path), ".gz")
			return body, f.noteMember(body)
		}
		return nil, f.fail(ErrNotTorch, "neither PyTorch's legacy format nor a zip archive, nor an archive holding one")
	}
	return f.fromTar(body)
}

func (f *File) noteMember(b []byte) error {
	sum := sha256.Sum256(b)
	f.MemberSHA256 = hex.EncodeToString(sum[:])
	return nil
}

// fromTar picks the one PyTorch file of a tar archive, skipping folders and
// the "._" resource forks macOS adds (ODIN's archive has ._densenet10.pth).
func (f *File) fromTar(body []byte) ([]byte, error) {
	tr := tar.NewReader(bytes.NewReader(body))
	type member struct {
		name string
		data []byte
	}
	var found []member
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, f.fail(ErrCorrupt, "tar (truncated or damaged archive): %v", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		base := path.Base(h.Name)
		names = append(names, h.Name)
		if strings.HasPrefix(base, "._") {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, f.fail(ErrCorrupt, "tar member %s (truncated archive): %v", h.Name, err)
		}
		if isLegacy(data) || isZip(data) {
			found = append(found, member{h.Name, data})
		}
	}
	switch {
	case len(found) == 1:
		f.Member = found[0].name
		return found[0].data, f.noteMember(found[0].data)
	case len(found) > 1:
		var ns []string
		for _, m := range found {
			ns = append(ns, m.name)
		}
		return nil, f.fail(ErrCorrupt, "the archive holds %d PyTorch files (%s); want one", len(found), strings.Join(ns, ", "))
	}
	for _, n := range names {
		if b := path.Base(n); b == "pickle" || b == "storages" {
			return nil, f.fail(ErrCorrupt, "the tar-based format of PyTorch before 0.1.10 is not supported")
		}
	}
	return nil, f.fail(ErrNotTorch, "an archive without a PyTorch file (members: %s)", strings.Join(names, ", "))
}

func (f *File) parse(body []byte) error {
	var root any
	var err error
	switch {
	case isLegacy(body):
		f.Format = "legacy"
		root, err = f.readLegacy(body)
	case isZip(body):
		f.Format = "zip"
		root, err = f.readZip(body)
	default:
		return f.fail(ErrNotTorch, "neither PyTorch's legacy format nor a zip archive")
	}
	if err != nil {
		return err
	}
	return f.name(root)
}
