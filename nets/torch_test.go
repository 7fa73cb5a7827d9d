package nets

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/internal/testenv"
	"github.com/mcdood/mcdood/torchfile"
)

// exportTorch writes m (but head 2) as a PyTorch file of the authors' layout
// would hold it, through the same name map LoadTorch reads, with the batch
// norms' num_batches_tracked counters a PyTorch ≥ 0.4 state dict has.
func exportTorch(t *testing.T, m *Model) *torchfile.File {
	t.Helper()
	targets, err := m.torchTargets()
	if err != nil {
		t.Fatal(err)
	}
	f := &torchfile.File{Path: "exported.pth", SHA256: "test", Format: "zip", Object: "state_dict"}
	for _, tg := range targets {
		f.Tensors = append(f.Tensors, torchfile.Tensor{Name: tg.torch, Shape: slices.Clone(tg.shape), DType: "float32", Data: slices.Clone(tg.dst)})
		if tg.kind == "bn-var" {
			f.Tensors = append(f.Tensors, torchfile.Tensor{Name: strings.TrimSuffix(tg.torch, "running_var") + "num_batches_tracked", Shape: []int{}, DType: "int64", Data: []float32{100}})
		}
	}
	return f
}

// headLogits runs m on fixed random images and returns both heads' logits.
func headLogits(t *testing.T, m *Model) (z1, z2 []float32) {
	t.Helper()
	p, err := m.EvalProgram(3)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	copy(p.Input(), randSlice(rand.New(rand.NewPCG(8, 8)), len(p.Input())))
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	a, b := p.Logits()
	return slices.Clone(a), slices.Clone(b)
}

// A model written in the authors' layout and loaded into a differently
// initialised model gives the same head-1 logits bit for bit; head 2 keeps
// its own initialisation and is reported as not in the file. The names
// exportTorch writes are the authors' (checked here for a few by hand, from
// facebookresearch/odin code/densenet.py and akamaster's resnet.py); that
// they hold the right values is TestTorchGolden's part.
func TestLoadTorchRoundTrip(t *testing.T) {
	for _, c := range []struct {
		arch  string
		names []string
	}{
		{"densenet-bc-16-4", []string{"conv1.weight", "block1.layer.0.bn1.weight", "block1.layer.1.conv2.weight", "block3.layer.1.bn2.running_var",
			"trans1.bn1.bias", "trans2.conv1.weight", "bn1.running_mean", "fc.weight", "fc.bias"}},
		{"resnet-cifar-8", []string{"conv1.weight", "bn1.running_var", "layer1.0.conv1.weight", "layer2.0.bn2.bias", "layer3.0.conv2.weight", "linear.weight", "linear.bias"}},
	} {
		t.Run(c.arch, func(t *testing.T) {
			spec, err := ParseSpec(c.arch)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := New(spec, 10, 1)
			perturbModel(a, rand.New(rand.NewPCG(4, 4)))
			f := exportTorch(t, a)
			for _, n := range c.names {
				if _, ok := f.Tensor(n); !ok {
					t.Errorf("the authors' %s is not among the names: %v", n, f.Names())
				}
			}
			b, _ := New(spec, 10, 2)
			w2, b2, _ := b.Head(2)
			ld, err := b.LoadTorchWeights(f)
			if err != nil {
				t.Fatal(err)
			}
			az1, _ := headLogits(t, a)
			bz1, _ := headLogits(t, b)
			if !slices.Equal(az1, bz1) {
				t.Errorf("head 1 after loading: %v, want %v", bz1[:4], az1[:4])
			}
			if w, bias, _ := b.Head(2); !slices.Equal(w, w2) || !slices.Equal(bias, b2) {
				t.Error("loading changed head 2")
			}
			if !slices.Equal(ld.NotInFile, []string{"head2.w", "head2.b"}) || ld.Tensors != len(f.Tensors)-len(ld.Ignored) || ld.Eps != 1e-5 {
				t.Errorf("report %+v", ld)
			}
			if err := b.CopyHead(1, 2); err != nil {
				t.Fatal(err)
			}
			if z1, z2 := headLogits(t, b); !slices.Equal(z1, z2) {
				t.Error("after CopyHead(1, 2) the heads differ")
			}
		})
	}
}

// Every tensor that does not fit is an error naming the file and the
// tensor, and leaves the model as it was.
func TestLoadTorchErrors(t *testing.T) {
	spec, _ := ParseSpec("densenet-bc-16-4")
	src, _ := New(spec, 10, 1)
	for _, c := range []struct {
		name string
		edit func(f *torchfile.File)
		says []string
	}{
		{"missing", func(f *torchfile.File) {
			f.Tensors = slices.DeleteFunc(f.Tensors, func(x torchfile.Tensor) bool { return x.Name == "block2.layer.1.conv1.weight" })
		}, []string{"tensor block2.layer.1.conv1.weight (our block2.2.conv1.w) is missing"}},
		{"missing statistics", func(f *torchfile.File) {
			f.Tensors = slices.DeleteFunc(f.Tensors, func(x torchfile.Tensor) bool { return x.Name == "bn1.running_var" })
		}, []string{"tensor bn1.running_var (our bn) is missing"}},
		{"extra", func(f *torchfile.File) {
			f.Tensors = append(f.Tensors, torchfile.Tensor{Name: "block1.layer.2.conv1.weight", Shape: []int{16, 16, 1, 1}, Data: make([]float32, 256)})
		}, []string{"tensor block1.layer.2.conv1.weight [16 16 1 1] has no place in densenet-bc-16-4"}},
		{"mis-shaped", func(f *torchfile.File) {
			x, _ := f.Tensor("trans1.conv1.weight")
			x.Shape = []int{x.Shape[0], x.Shape[1], 3, 3}
		}, []string{"tensor trans1.conv1.weight has shape [8 16 3 3], densenet-bc-16-4 wants [8 16 1 1] for trans1.conv.w"}},
		{"100 classes", func(f *torchfile.File) {
			x, _ := f.Tensor("fc.weight")
			x.Shape, x.Data = []int{100, x.Shape[1]}, make([]float32, 100*x.Shape[1])
			b, _ := f.Tensor("fc.bias")
			b.Shape, b.Data = []int{100}, make([]float32, 100)
		}, []string{"tensor fc.weight has shape [100 16], densenet-bc-16-4 wants [10 16] for head1.w: the file's classifier has 100 classes, the model 10",
			"tensor fc.bias has shape [100]"}},
		{"NaN", func(f *torchfile.File) {
			x, _ := f.Tensor("bn1.weight")
			x.Data[0] = float32(nanF())
		}, []string{"tensor bn1.weight holds NaN"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := exportTorch(t, src)
			c.edit(f)
			m, _ := New(spec, 10, 2)
			before, _ := headLogits(t, m)
			_, err := m.LoadTorchWeights(f)
			if err == nil {
				t.Fatal("loaded")
			}
			if !errors.Is(err, ErrTorchWeights) || !strings.Contains(err.Error(), "exported.pth") {
				t.Errorf("err = %v; want ErrTorchWeights naming exported.pth", err)
			}
			for _, s := range c.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("err = %v\nwant it to say %q", err, s)
				}
			}
			if after, _ := headLogits(t, m); !slices.Equal(after, before) {
				t.Error("a failed load changed the model")
			}
		})
	}
	t.Run("module. prefix", func(t *testing.T) {
		f := exportTorch(t, src)
		for i := range f.Tensors {
			f.Tensors[i].Name = "module." + f.Tensors[i].Name
		}
		m, _ := New(spec, 10, 2)
		ld, err := m.LoadTorchWeights(f)
		if err != nil || ld.Prefix != "module." || len(ld.Ignored) != 15 || !strings.HasPrefix(ld.Ignored[0], "module.") {
			t.Fatalf("err %v, report %+v; want the prefix stripped and the 15 batch norms' num_batches_tracked ignored", err, ld)
		}
	})
	t.Run("eps from the file", func(t *testing.T) {
		f := exportTorch(t, src)
		f.Modules = map[string]torchfile.Module{"bn1": {Class: "torch.nn.modules.batchnorm.BatchNorm2d", Attrs: map[string]float64{"eps": 1e-3}}}
		m, _ := New(spec, 10, 2)
		ld, err := m.LoadTorchWeights(f)
		if err != nil || ld.Eps != 1e-3 || m.bn["block2.1.bn2"].Eps != float32(1e-3) {
			t.Fatalf("err %v, eps %v; want 1e-3 everywhere", err, ld.Eps)
		}
	})
	t.Run("no layout", func(t *testing.T) {
		small, _ := ParseSpec("small")
		m, _ := New(small, 10, 1)
		if _, err := m.LoadTorchWeights(exportTorch(t, src)); err == nil || !strings.Contains(err.Error(), "no PyTorch file layout") {
			t.Fatalf("err = %v", err)
		}
	})
}

func nanF() float64 { var z float64; return z / z }

// The published files' own errors: ODIN's CIFAR-100 network into a
// 10-class model (and, as a control, into a 100-class one), and a truncated
// copy of the CIFAR-10 one.
func TestLoadTorchPublishedErrors(t *testing.T) {
	mirror := testenv.DataMirror(t)
	spec, _ := ParseSpec("densenet-bc-100")
	p100 := filepath.Join(mirror, "pretrained", "densenet100.pth")
	_, _, err := LoadTorchFile(p100, spec, 10, 1)
	if !errors.Is(err, ErrTorchWeights) || !strings.Contains(err.Error(), p100) ||
		!strings.Contains(err.Error(), "tensor fc.weight has shape [100 342], densenet-bc-100 wants [10 342] for head1.w: the file's classifier has 100 classes, the model 10") {
		t.Errorf("CIFAR-100 file into 10 classes: err = %v", err)
	}
	m100, _ := New(spec, 100, 1)
	if ld, err := m100.LoadTorch(p100); err != nil || ld.Head2 || ld.Tensors != 497 || ld.File != p100 {
		t.Errorf("CIFAR-100 file into 100 classes: %+v, %v", ld, err)
	}
	raw, err := os.ReadFile(filepath.Join(mirror, "pretrained", "densenet10.pth.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "densenet10.pth.tar.gz")
	if err := os.WriteFile(cut, raw[:len(raw)-1000], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadTorchFile(cut, spec, 10, 1); !errors.Is(err, torchfile.ErrCorrupt) || !strings.Contains(err.Error(), cut) {
		t.Errorf("truncated archive: err = %v", err)
	}
}
