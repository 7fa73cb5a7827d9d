package torchfile

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/internal/testenv"
)

// The fixtures in testdata are written by scripts/torch_golden.py with
// PyTorch 1.13 (which reads each back and checks it); the values below are
// the ones that script puts in them.

// stateWant is tiny_state() of scripts/torch_golden.py: conv.weight =
// arange(24)/8 as (2,3,2,2); t = arange(6) as (2,3), transposed; shared =
// conv.weight's elements 4..7 (a view at storage offset 4); one tensor of
// each other element type.
var stateWant = []Tensor{
	{Name: "conv.weight", Shape: []int{2, 3, 2, 2}, DType: "float32", Data: arange(24, 1.0/8)},
	{Name: "t", Shape: []int{3, 2}, DType: "float32", Data: []float32{0, 3, 1, 4, 2, 5}},
	{Name: "shared", Shape: []int{4}, DType: "float32", Data: []float32{0.5, 0.625, 0.75, 0.875}},
	{Name: "half", Shape: []int{3}, DType: "float16", Data: []float32{0.5, -2, 65504}},
	{Name: "bf16", Shape: []int{2}, DType: "bfloat16", Data: []float32{1.5, -0.25}},
	{Name: "double", Shape: []int{2, 1}, DType: "float64", Data: []float32{1.25, -3.5}},
	{Name: "bn.num_batches_tracked", Shape: []int{}, DType: "int64", Data: []float32{7}},
	{Name: "flag", Shape: []int{2}, DType: "bool", Data: []float32{1, 0}},
}

// modelWant is tiny_model(): fixturenet.Tiny's state dict, with conv.weight
// = arange(6), fc.weight = arange(6) − 3, and the batch norm's values set by
// hand (num_batches_tracked 0: never trained).
var modelWant = []Tensor{
	{Name: "conv.weight", Shape: []int{2, 3, 1, 1}, DType: "float32", Data: arange(6, 1)},
	{Name: "bn.weight", Shape: []int{2}, DType: "float32", Data: []float32{1, 2}},
	{Name: "bn.bias", Shape: []int{2}, DType: "float32", Data: []float32{0.5, -0.5}},
	{Name: "bn.running_mean", Shape: []int{2}, DType: "float32", Data: []float32{0.25, 0.75}},
	{Name: "bn.running_var", Shape: []int{2}, DType: "float32", Data: []float32{4, 9}},
	{Name: "bn.num_batches_tracked", Shape: []int{}, DType: "int64", Data: []float32{0}},
	{Name: "fc.weight", Shape: []int{3, 2}, DType: "float32", Data: []float32{-3, -2, -1, 0, 1, 2}},
	{Name: "fc.bias", Shape: []int{3}, DType: "float32", Data: []float32{0.1, 0.2, 0.3}},
}

func arange(n int, scale float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(i) * scale
	}
	return out
}

func sameTensors(t *testing.T, what string, got, want []Tensor) {
	t.Helper()
	if len(got) != len(want) {
		var names []string
		for _, g := range got {
			names = append(names, g.Name)
		}
		t.Fatalf("%s: %d tensors %v, want %d", what, len(got), names, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.Name || !slices.Equal(g.Shape, w.Shape) || g.DType != w.DType || !slices.Equal(g.Data, w.Data) {
			t.Errorf("%s: tensor %d is %s %v %s %v, want %s %v %s %v", what, i, g.Name, g.Shape, g.DType, g.Data, w.Name, w.Shape, w.DType, w.Data)
		}
	}
}

func TestLoadFixtures(t *testing.T) {
	for _, c := range []struct {
		file, format, object, class string
		want                        []Tensor
	}{
		{"state_zip.pt", "zip", "state_dict", "", stateWant},
		{"state_legacy.pt", "legacy", "state_dict", "", stateWant},
		{"model_zip.pt", "zip", "model", "fixturenet.Tiny", modelWant},
		{"model_legacy.pt", "legacy", "model", "fixturenet.Tiny", modelWant},
		// Pickled as PyTorch < 0.4 under Python 2.7 did (OrderedDict(items),
		// _rebuild_tensor, Parameter(data) with a state), as ODIN's files.
		{"model_py2style.pt", "legacy", "model", "fixturenet.Tiny", modelWant},
	} {
		t.Run(c.file, func(t *testing.T) {
			f, err := Load(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			if f.Format != c.format || f.Object != c.object || f.Class != c.class || f.Member != "" {
				t.Errorf("format %q, object %q, class %q, member %q; want %q, %q, %q and none", f.Format, f.Object, f.Class, f.Member, c.format, c.object, c.class)
			}
			sameTensors(t, c.file, f.Tensors, c.want)
			if c.object == "model" {
				bn := f.Modules["bn"]
				if bn.Class != "torch.nn.modules.batchnorm.BatchNorm2d" || bn.Attrs["eps"] != 1e-3 || bn.Attrs["momentum"] != 0.1 {
					t.Errorf("module bn: %+v; want a BatchNorm2d with eps 1e-3, momentum 0.1", bn)
				}
				if got := f.ModuleNames(); !slices.Equal(got, []string{"", "bn", "conv", "fc"}) {
					t.Errorf("modules %v", got)
				}
			}
		})
	}
}

// The published files on the data mirror: tensor counts and parameter
// counts from ../shared/data/README.md (497 tensors; 769,162 and 800,032
// trainable parameters; 277 entries and akamaster's 0.85M), and values
// PyTorch 1.13 printed for them (conv1.weight[0,0,0,:3], fc.bias[:2]).
func TestLoadPublished(t *testing.T) {
	mirror := testenv.DataMirror(t)
	for _, c := range []struct {
		file, member, memberSHA, object, class string
		tensors, trainable                     int
		check                                  string
		values                                 []float32
	}{
		{"densenet10.pth.tar.gz", "densenet10.pth", "3211ffc3f6107d0605b5914d58fd352318b7af6464e99eb875b88e5c38fdcb31", "model", "densenet.DenseNet3",
			497, 769162, "fc.bias", []float32{0.19527872, -0.24903667}},
		{"densenet100.pth", "", "", "model", "densenet.DenseNet3", 497, 800032, "fc.bias", []float32{-0.12442926, -0.23007376}},
		{"resnet56-4bfd9763.th", "", "", "checkpoint", "", 277, 853018, "module.linear.bias", []float32{0.13465537, -0.24308707}},
	} {
		t.Run(c.file, func(t *testing.T) {
			f, err := Load(filepath.Join(mirror, "pretrained", c.file))
			if err != nil {
				t.Fatal(err)
			}
			if f.Format != "legacy" || f.Object != c.object || f.Class != c.class || f.Member != c.member || f.MemberSHA256 != c.memberSHA {
				t.Errorf("format %s, object %s, class %q, member %q (sha256 %s)", f.Format, f.Object, f.Class, f.Member, f.MemberSHA256)
			}
			trainable := 0
			for _, x := range f.Tensors {
				if !strings.Contains(x.Name, "running_") {
					trainable += x.Len()
				}
				if x.DType != "float32" || x.Location != "cuda:0" {
					t.Fatalf("tensor %s: %s on %s; the file holds float32 tensors saved from cuda:0", x.Name, x.DType, x.Location)
				}
			}
			if len(f.Tensors) != c.tensors || trainable != c.trainable {
				t.Errorf("%d tensors, %d trainable values; want %d and %d", len(f.Tensors), trainable, c.tensors, c.trainable)
			}
			x, ok := f.Tensor(c.check)
			if !ok || !slices.Equal(x.Data[:2], c.values) {
				t.Errorf("%s: %v, want %v first", c.check, x, c.values)
			}
			if c.object == "model" && f.Modules["block1.layer.0.bn1"].Attrs["eps"] != 1e-5 {
				t.Errorf("block1.layer.0.bn1: %+v, want eps 1e-5", f.Modules["block1.layer.0.bn1"])
			}
			if c.object == "checkpoint" && f.Meta["best_prec1"] != "93.62" {
				t.Errorf("meta %v, want best_prec1 93.62", f.Meta)
			}
		})
	}
}

// legacyFile frames a main pickle as PyTorch's legacy format, with no
// storages: magic number, protocol 1001, an empty system-info dict, the
// pickle, an empty list of storage keys.
func legacyFile(main string) []byte {
	return []byte(string(legacyMagic) + "\x80\x02M\xe9\x03." + "\x80\x02}." + main + "\x80\x02].")
}

// A pickle naming os.system and calling it (REDUCE) with a command that
// would create a file gets an inert record: the command is not run, and the
// file is refused as holding no model.
func TestClassesAreInert(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	cmd := "touch " + marker
	main := "\x80\x02cos\nsystem\nU" + string(rune(len(cmd))) + cmd + "\x85R."
	_, err := Parse("evil.pt", legacyFile(main))
	if err == nil || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "os.system object") {
		t.Fatalf("err = %v; want a corrupt-file error naming the os.system record", err)
	}
	if _, statErr := os.Stat(marker); statErr == nil {
		t.Fatal("the pickled os.system call ran")
	}
	// The record keeps what it was called with, and nothing else happens.
	v, err := findClass("os", "system")
	if err != nil {
		t.Fatal(err)
	}
	c, ok := v.(*class)
	if !ok || c.String() != "os.system" {
		t.Fatalf("os.system resolves to %#v, want an inert class record", v)
	}
	o, _ := c.Call(cmd)
	if rec, ok := o.(*object); !ok || rec.args[0] != cmd {
		t.Fatalf("calling the record gave %#v", o)
	}
}

// gzipped wraps b in a gzip stream.
func gzipped(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tarred makes a tar archive of (name, content) pairs.
func tarred(t *testing.T, files ...string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i < len(files); i += 2 {
		tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1])), Typeflag: tar.TypeReg})
		tw.Write([]byte(files[i+1]))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipped(t *testing.T, files ...string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i < len(files); i += 2 {
		w, _ := zw.Create(files[i])
		w.Write([]byte(files[i+1]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func fixture(t *testing.T, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Archives: a PyTorch file inside a .tar.gz (beside a macOS "._" fork, as
// ODIN's), a .tar and a .gz is read in place, and the member is named.
func TestArchives(t *testing.T) {
	state := string(fixture(t, "state_legacy.pt"))
	for _, c := range []struct {
		name, member string
		raw          []byte
	}{
		{"w.pth.tar.gz", "w.pth", gzipped(t, tarred(t, "._w.pth", "resource fork", "w.pth", state))},
		{"w.tar", "dir/w.pth", tarred(t, "dir/README", "hello", "dir/w.pth", state)},
		{"w.pth.gz", "w.pth", gzipped(t, []byte(state))},
	} {
		f, err := Parse(c.name, c.raw)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if f.Member != c.member || f.Describe() != c.name+" ("+c.member+")" {
			t.Errorf("%s: member %q", c.name, f.Member)
		}
		sameTensors(t, c.name, f.Tensors, stateWant)
	}
}

// Bad input is an error naming the file and what is wrong, of the right
// kind, never a panic or a half-read file.
func TestErrors(t *testing.T) {
	legacy := fixture(t, "model_legacy.pt")
	zipFile := fixture(t, "state_zip.pt")
	stateLegacy := fixture(t, "state_legacy.pt")
	flipped := bytes.Clone(zipFile)
	// The first storage record's data: flip one byte so its CRC fails.
	if i := bytes.Index(flipped, []byte("data/0")); i > 0 {
		flipped[i+len("data/0")+64] ^= 0xff
	}
	for _, c := range []struct {
		name string
		raw  []byte
		kind error
		says string
	}{
		{"empty.pt", nil, ErrNotTorch, "neither"},
		{"text.pt", []byte("this is not a network\n"), ErrNotTorch, "neither"},
		{"image.jpg", []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), ErrNotTorch, "neither"},
		{"plain.zip", zipped(t, "a/readme.txt", "hi"), ErrNotTorch, "without a top-level FOLDER/data.pkl"},
		{"text.tar.gz", gzipped(t, tarred(t, "notes.txt", "hello")), ErrNotTorch, "without a PyTorch file (members: notes.txt)"},
		{"two.tar", tarred(t, "a.pth", string(stateLegacy), "b.pth", string(stateLegacy)), ErrCorrupt, "2 PyTorch files (a.pth, b.pth)"},
		{"script.pt", zipped(t, "m/data.pkl", "", "m/constants.pkl", ""), ErrCorrupt, "TorchScript"},
		{"truncated-pickle.pt", legacy[:len(legacyMagic)+200], ErrCorrupt, "truncated"},
		{"truncated-storage.pt", legacy[:len(legacy)-3], ErrCorrupt, "truncated: storage"},
		{"trailing.pt", append(bytes.Clone(stateLegacy), 0), ErrCorrupt, "1 bytes after the last storage"},
		{"truncated-zip.pt", zipFile[:len(zipFile)/2], ErrCorrupt, "zip (truncated or damaged)"},
		{"crc.pt", flipped, ErrCorrupt, "checksum"},
		{"truncated.tar.gz", gzipped(t, tarred(t, "w.pth", string(legacy)))[:500], ErrCorrupt, "truncated"},
		{"magic-only.pt", legacyMagic, ErrCorrupt, "protocol version: the file ends inside it"},
		{"huge-length.pt", legacyFile("\x80\x02\x8e\xff\xff\xff\xff\xff\xff\xff\x7f."), ErrCorrupt, "needs 9223372036854775807 bytes, 5 remain"},
		{"odd-setitems.pt", legacyFile("\x80\x02}(K\x01u."), ErrCorrupt, "the pickled object"},
		{"not-a-model.pt", legacyFile("\x80\x02K\x07."), ErrCorrupt, "holds a int, not a model"},
		{"no-tensors.pt", legacyFile("\x80\x02}."), ErrCorrupt, "holds no tensors"},
		{"bad-entry.pt", legacyFile("\x80\x02}U\x01aK\x01s."), ErrCorrupt, "state dict entry a is a int, not a tensor"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse(c.name, c.raw)
			if err == nil {
				t.Fatalf("read %d tensors; want an error", len(f.Tensors))
			}
			if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.name) || !strings.Contains(err.Error(), c.says) {
				t.Errorf("err = %v; want %v naming %s and saying %q", err, c.kind, c.name, c.says)
			}
		})
	}
}

// A published file cut short, in a temporary copy, is an error naming the
// copy (the .tar.gz is cut inside its gzip stream, the .pth inside its
// storages).
func TestTruncatedPublished(t *testing.T) {
	mirror := testenv.DataMirror(t)
	for _, name := range []string{"densenet10.pth.tar.gz", "densenet100.pth", "resnet56-4bfd9763.th"} {
		raw, err := os.ReadFile(filepath.Join(mirror, "pretrained", name))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, raw[:len(raw)*2/3], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = Load(p)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "truncated") {
			t.Errorf("%s cut to 2/3: err = %v; want a truncation error naming %s", name, err, p)
		}
	}
}

// FuzzParse: no input makes Parse panic, and what it accepts has tensors
// whose data match their shapes.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"state_zip.pt", "state_legacy.pt", "model_legacy.pt", "model_py2style.pt"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(legacyFile("\x80\x02}U\x01aK\x01s."))
	f.Fuzz(func(t *testing.T, raw []byte) {
		file, err := Parse("fuzz.pt", raw)
		if err != nil {
			return
		}
		for _, x := range file.Tensors {
			n := 1
			for _, d := range x.Shape {
				n *= d
			}
			if n != len(x.Data) {
				t.Fatalf("tensor %s of shape %v has %d values", x.Name, x.Shape, len(x.Data))
			}
		}
	})
}
