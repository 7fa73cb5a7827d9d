package nets

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/mcdood/mcdood/torchfile"
)

// Published PyTorch networks. A file read by package torchfile names its
// tensors as the authors' modules do (ODIN's DenseNet3: conv1.weight,
// block1.layer.0.bn1.running_mean, fc.bias …); each architecture that can be
// loaded says which of its modules each of our layers is (Spec.torchModule),
// and the suffixes follow PyTorch's modules: a convolution's .weight is our
// .w, a batch norm's .weight, .bias, .running_mean and .running_var are our
// .gamma, .beta and its running statistics, a linear layer's .weight and
// .bias are our .w and .b. A file has one classifier; it becomes head 1.

// ErrTorchWeights is matched by every error of LoadTorch about the file's
// tensors (missing, extra, mis-shaped, another number of classes).
var ErrTorchWeights = errors.New("weights do not fit the network")

// The input normalisations of the networks: a byte b of channel c is fed
// as (b/255 − mean[c]) / std[c] (loaders.Normalization has the same
// meaning).
var (
	// CIFARMean and CIFARStd are ODIN's (Liang et al., ICLR 2018,
	// code/cal.py) and the MCD authors': mean (125.3, 123.0, 113.9)/255,
	// std (63.0, 62.1, 66.7)/255. ODIN's DenseNets were trained with them.
	CIFARMean = [ImageChannels]float32{125.3 / 255, 123.0 / 255, 113.9 / 255}
	CIFARStd  = [ImageChannels]float32{63.0 / 255, 62.1 / 255, 66.7 / 255}
	// ImageNetMean and ImageNetStd are torchvision's ImageNet statistics,
	// with which akamaster/pytorch_resnet_cifar10 (trainer.py) trained its
	// CIFAR ResNets: mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225).
	ImageNetMean = [ImageChannels]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [ImageChannels]float32{0.229, 0.224, 0.225}
)

// Normalization is the input normalisation of the architecture, per
// channel (family.inputMean, inputStd): ImageNet's for resnet-cifar (as its
// published weights were trained), CIFAR's (ODIN's) for every other family,
// which is what the project has always fed them.
func (s Spec) Normalization() (mean, std [ImageChannels]float32) {
	if f := findFamily(s.Family); f != nil && f.inputStd != ([ImageChannels]float32{}) {
		return f.inputMean, f.inputStd
	}
	return CIFARMean, CIFARStd
}

// TorchLoad says what LoadTorch took from a file.
type TorchLoad struct {
	File   string // the file (and archive member) read
	SHA256 string // of the file as stored (the archive, for an archive)
	Format string // torchfile's: legacy or zip; and what it pickled
	Object string
	// Tensors is the number of the file's tensors that were loaded.
	Tensors int
	// Prefix is the prefix stripped from every name ("module." of a
	// network saved from nn.DataParallel), if any.
	Prefix string
	// Ignored are the file's tensors that have no place in the model and
	// need none: batch norms' num_batches_tracked counters.
	Ignored []string
	// NotInFile are the model's parameters the file does not have: the
	// second classifier head, left as it was (see SetHead, CopyHead).
	NotInFile []string
	// Head2 says the file filled head 2 too. No known layout has a second
	// classifier (the MCD authors' two-head checkpoint is not obtainable),
	// so it is false; a caller copies or builds head 2 when it is.
	Head2 bool
	// Eps is the batch norms' ε: the file's (a pickled model's BatchNorm2d
	// modules say it), else PyTorch's default 1e-5.
	Eps float64
}

// torchTarget is one tensor the model expects from a file.
type torchTarget struct {
	torch string    // its name in the file
	ours  string    // the parameter or batch norm it fills
	kind  string    // param, bn-mean, bn-var
	shape []int     // what the model wants
	dst   []float32 // where it goes
}

// torchSuffix maps a parameter suffix of ours to PyTorch's.
var torchSuffix = map[string]string{"w": "weight", "b": "bias", "gamma": "weight", "beta": "bias"}

// torchTargets lists, for every parameter and batch-norm statistic of m
// outside head 2, the tensor of a PyTorch file that fills it.
func (m *Model) torchTargets() ([]torchTarget, error) {
	var out []torchTarget
	for _, p := range m.params {
		if strings.HasPrefix(p.Name, "head2.") {
			continue
		}
		i := strings.LastIndexByte(p.Name, '.')
		layer, suffix := p.Name[:i], p.Name[i+1:]
		mod, err := m.Spec.torchModule(layer)
		if err != nil {
			return nil, err
		}
		ts, ok := torchSuffix[suffix]
		if !ok {
			return nil, fmt.Errorf("nets: %s: parameter %s has no PyTorch counterpart", m.Spec.Name, p.Name)
		}
		out = append(out, torchTarget{torch: mod + "." + ts, ours: p.Name, kind: "param", shape: p.Value.Shape().Clone(), dst: p.Data()})
	}
	for _, name := range m.bnNames {
		mod, err := m.Spec.torchModule(name)
		if err != nil {
			return nil, err
		}
		s := m.bn[name]
		out = append(out,
			torchTarget{torch: mod + ".running_mean", ours: name, kind: "bn-mean", shape: []int{len(s.Mean)}, dst: s.Mean},
			torchTarget{torch: mod + ".running_var", ours: name, kind: "bn-var", shape: []int{len(s.Var)}, dst: s.Var})
	}
	return out, nil
}

// LoadTorch reads the PyTorch file at path (torchfile.Load: the legacy or
// zip format, a whole pickled model or a state dict, in a .tar.gz or not)
// into m as LoadTorchWeights does. A file that cannot be read is an error
// naming it that matches torchfile.ErrNotTorch or torchfile.ErrCorrupt.
func (m *Model) LoadTorch(path string) (*TorchLoad, error) {
	f, err := torchfile.Load(path)
	if err != nil {
		return nil, err
	}
	return m.LoadTorchWeights(f)
}

// LoadTorchWeights sets m's weights and batch-norm statistics from a
// PyTorch file read by torchfile: every tensor of the file must fill a
// parameter or statistic of m (batch norms' num_batches_tracked aside) with
// exactly the shape m has, and every parameter but head 2's must be in the
// file. Head 2 is left as it was and listed in NotInFile. The model is
// changed only when the whole file fits; otherwise the error names the file
// and each tensor that does not fit (at most ten) and matches
// ErrTorchWeights.
func (m *Model) LoadTorchWeights(f *torchfile.File) (*TorchLoad, error) {
	targets, err := m.torchTargets()
	if err != nil {
		return nil, err
	}
	ld := &TorchLoad{File: f.Describe(), SHA256: f.SHA256, Format: f.Format, Object: f.Object, Eps: 1e-5}
	// A prefix every name has and no target has: DataParallel's "module.".
	if p := "module."; !strings.HasPrefix(targets[0].torch, p) && len(f.Tensors) > 0 &&
		!slices.ContainsFunc(f.Tensors, func(t torchfile.Tensor) bool { return !strings.HasPrefix(t.Name, p) }) {
		ld.Prefix = p
	}
	byName := map[string]*torchfile.Tensor{}
	for i := range f.Tensors {
		byName[strings.TrimPrefix(f.Tensors[i].Name, ld.Prefix)] = &f.Tensors[i]
	}
	var problems []string
	wanted := map[string]bool{}
	for _, t := range targets {
		wanted[t.torch] = true
		ft, ok := byName[t.torch]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("tensor %s%s (our %s) is missing", ld.Prefix, t.torch, t.ours))
		case !slices.Equal(ft.Shape, t.shape):
			msg := fmt.Sprintf("tensor %s has shape %v, %s wants %v for %s", ft.Name, ft.Shape, m.Spec.Name, t.shape, t.ours)
			if strings.HasPrefix(t.ours, "head1.") && len(ft.Shape) > 0 && len(t.shape) > 0 && ft.Shape[0] != t.shape[0] {
				msg += fmt.Sprintf(": the file's classifier has %d classes, the model %d", ft.Shape[0], m.Classes)
			}
			problems = append(problems, msg)
		}
	}
	for _, ft := range f.Tensors {
		name := strings.TrimPrefix(ft.Name, ld.Prefix)
		switch {
		case wanted[name]:
		case strings.HasSuffix(name, ".num_batches_tracked"):
			ld.Ignored = append(ld.Ignored, ft.Name)
		default:
			problems = append(problems, fmt.Sprintf("tensor %s %v has no place in %s", ft.Name, ft.Shape, m.Spec.Name))
		}
	}
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool { // the class count first: it explains the rest
			return strings.Contains(problems[i], "classes") && !strings.Contains(problems[j], "classes")
		})
		more := ""
		if len(problems) > 10 {
			more = fmt.Sprintf("; and %d more", len(problems)-10)
			problems = problems[:10]
		}
		return nil, fmt.Errorf("torch file %s: %s%s: %w", f.Describe(), strings.Join(problems, "; "), more, ErrTorchWeights)
	}
	eps, err := torchEps(f)
	if err != nil {
		return nil, err
	}
	ld.Eps = eps
	for _, t := range targets {
		ft := byName[t.torch]
		for _, v := range ft.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("torch file %s: tensor %s holds %v: %w", f.Describe(), ft.Name, v, ErrTorchWeights)
			}
		}
	}
	for _, t := range targets {
		copy(t.dst, byName[t.torch].Data)
	}
	for _, s := range m.bn {
		s.Eps = float32(eps)
	}
	for _, p := range m.params {
		if strings.HasPrefix(p.Name, "head2.") {
			ld.NotInFile = append(ld.NotInFile, p.Name)
		}
	}
	ld.Tensors = len(targets)
	return ld, nil
}

// torchEps is the one ε of a pickled model's BatchNorm2d modules, or
// PyTorch's default 1e-5 for a state dict (which does not record it).
func torchEps(f *torchfile.File) (float64, error) {
	eps, seen := 1e-5, false
	for _, name := range f.ModuleNames() {
		mod := f.Modules[name]
		e, ok := mod.Attrs["eps"]
		if !ok || !strings.Contains(mod.Class, "BatchNorm") {
			continue
		}
		if seen && e != eps {
			return 0, fmt.Errorf("torch file %s: batch norms with different ε (%g, and %g in %s) are not supported: %w", f.Describe(), eps, e, name, ErrTorchWeights)
		}
		eps, seen = e, true
	}
	return eps, nil
}

// LoadTorchFile reads the PyTorch file at path into a new model of spec
// for classes classes (LoadTorch), whose second head keeps its
// initialisation from seed.
func LoadTorchFile(path string, spec Spec, classes int, seed uint64) (*Model, *TorchLoad, error) {
	if err := CheckTorchArchitecture(spec); err != nil {
		return nil, nil, err
	}
	f, err := torchfile.Load(path)
	if err != nil {
		return nil, nil, err
	}
	m, err := New(spec, classes, seed)
	if err != nil {
		return nil, nil, err
	}
	ld, err := m.LoadTorchWeights(f)
	if err != nil {
		return nil, nil, err
	}
	return m, ld, nil
}

// CheckTorchArchitecture says whether a PyTorch file layout is known for
// spec's architecture (LoadTorch can fill it): densenet-bc-L-k (ODIN's
// DenseNet3) and resnet-cifar-D (akamaster's ResNet).
func CheckTorchArchitecture(spec Spec) error {
	_, err := spec.torchModule("head1")
	return err
}

// SetHead replaces classifier head k's (1 or 2) weight (classes ×
// features, row-major) and bias; bias is nil for architectures whose heads
// have none.
func (m *Model) SetHead(k int, w, b []float32) error {
	if k != 1 && k != 2 {
		return fmt.Errorf("nets: head %d: the model has heads 1 and 2", k)
	}
	pw := m.byName[fmt.Sprintf("head%d.w", k)]
	pb := m.byName[fmt.Sprintf("head%d.b", k)]
	if len(w) != len(pw.Data()) {
		return fmt.Errorf("nets: head %d: weight of %d values, want %d (%d classes × %d features)", k, len(w), len(pw.Data()), m.Classes, m.feature)
	}
	if (pb == nil) != (b == nil) || pb != nil && len(b) != len(pb.Data()) {
		want := 0
		if pb != nil {
			want = len(pb.Data())
		}
		return fmt.Errorf("nets: head %d: bias of %d values, want %d", k, len(b), want)
	}
	copy(pw.Data(), w)
	if pb != nil {
		copy(pb.Data(), b)
	}
	return nil
}

// Head returns copies of classifier head k's weight and bias (nil when the
// heads have no bias).
func (m *Model) Head(k int) (w, b []float32, err error) {
	if k != 1 && k != 2 {
		return nil, nil, fmt.Errorf("nets: head %d: the model has heads 1 and 2", k)
	}
	w = append([]float32(nil), m.byName[fmt.Sprintf("head%d.w", k)].Data()...)
	if pb := m.byName[fmt.Sprintf("head%d.b", k)]; pb != nil {
		b = append([]float32(nil), pb.Data()...)
	}
	return w, b, nil
}

// CopyHead sets head to's weights to head from's: the two heads of a
// network loaded from a one-head file then agree exactly.
func (m *Model) CopyHead(from, to int) error {
	w, b, err := m.Head(from)
	if err != nil {
		return err
	}
	return m.SetHead(to, w, b)
}

// torchModule is the PyTorch module of the authors' code that our layer is
// (a convolution, batch norm or linear layer, by our name without its
// parameter suffix), for the architectures that can be loaded from a
// PyTorch file (family.torchModule).
func (s Spec) torchModule(layer string) (string, error) {
	f := findFamily(s.Family)
	if f == nil || f.torchModule == nil {
		var known []string
		for _, f := range families {
			if f.torchModule != nil {
				known = append(known, f.torchLayout)
			}
		}
		return "", fmt.Errorf("nets: %s: no PyTorch file layout is known for this architecture (known: %s)", s.Name, strings.Join(known, ", "))
	}
	name, ok := f.torchModule(layer)
	if !ok {
		return "", fmt.Errorf("nets: %s: layer %s has no PyTorch counterpart", s.Name, layer)
	}
	return name, nil
}
