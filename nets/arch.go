package nets

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	G "gorgonia.org/gorgonia"
)

// Spec names an architecture: a family (registered by its file, arch_*.go)
// and the numbers its name gives. Name is what TOML files and the CLI use
// ("densenet-bc-100", "wrn-28-10"); Architectures lists the forms.
type Spec struct {
	Name    string
	Family  string
	Depth   int     // densenet, wrn, resnet-cifar
	Growth  int     // densenet k
	Width   int     // wrn widening factor; resnet9 base channels; mlp width
	Widths  [3]int  `json:",omitzero"` // airbench block widths (left out of JSON when zero, so older model keys stay)
	Dropout float64 // wrn dropout between the two convolutions of a block
}

// extractor builds the feature extractor on x (C, N, H, W) and returns the
// features (N, F).
type extractor func(b *builder, x *G.Node) *G.Node

// family is one architecture family: everything that depends on it, in
// the family's own file, which registers it from init.
type family struct {
	name string // Spec.Family, and the prefix of its networks' names
	form string // the name's form in messages ("wrn-D-W")
	doc  string // one line, citing the architecture's paper
	// want is the name's form in a parse error ("wrn-DEPTH-WIDTH"), and
	// minArgs, maxArgs the count of positive integers after name (0, 0
	// for a name without numbers, like "small").
	want             string
	minArgs, maxArgs int
	// parse fills the family's fields of s from the numbers, or says what
	// is wrong with them (a depth that is not 6n+4, say).
	parse func(s *Spec, n []int) string
	build func(s Spec) extractor
	// version is the definition's version. Bump it when a change to the
	// family's code changes the networks it builds: model keys hash a Spec's
	// JSON, which then carries "Version", so no cached network of the old
	// definition is reused. 0 and 1 are version 1, left out of the JSON so
	// that keys made before versions existed stay as they were.
	version int
	// headScale and headBias are the classifier heads' output scale and
	// whether they have a bias; the zero values mean (1, true).
	headScale  float32
	headNoBias bool
	// dataInit is what the family computes from the training images before
	// training (airbench's whitening filters); nil for nothing.
	dataInit func(m *Model, src Source) error
	// inputMean and inputStd are the input normalisation the family's
	// networks are fed (Spec.Normalization); zero means CIFARMean and
	// CIFARStd.
	inputMean, inputStd [ImageChannels]float32
	// dropout says the family's blocks take Spec.Dropout (wrn).
	dropout bool
	// torchModule maps our layer names to the modules of the published
	// PyTorch code a file of the family's networks comes from, and
	// torchLayout names that code in messages ("densenet-bc-L-k as ODIN's
	// DenseNet3"); nil and "" for a family no PyTorch file loads into.
	torchModule func(layer string) (string, bool)
	torchLayout string
}

// families is the registry, sorted by name.
var families []*family

// register adds a family; a duplicate name is a programming error.
func register(f family) {
	if findFamily(f.name) != nil {
		panic("nets: architecture family registered twice: " + f.name)
	}
	families = append(families, &f)
	slices.SortFunc(families, func(a, b *family) int { return strings.Compare(a.name, b.name) })
}

func findFamily(name string) *family {
	for _, f := range families {
		if f.name == name {
			return f
		}
	}
	return nil
}

// Architecture is a registered family's name form and description.
type Architecture struct {
	Form string // "wrn-D-W"
	Doc  string
}

// Architectures lists the registered families, sorted by name.
func Architectures() []Architecture {
	out := make([]Architecture, len(families))
	for i, f := range families {
		out[i] = Architecture{Form: f.form, Doc: f.doc}
	}
	return out
}

// ParseSpec reads an architecture name (see Architectures).
func ParseSpec(name string) (Spec, error) {
	bad := func(format string, args ...any) (Spec, error) {
		var forms []string
		for _, a := range Architectures() {
			forms = append(forms, a.Form)
		}
		return Spec{}, fmt.Errorf("network %q: %s (known: %s)", name, fmt.Sprintf(format, args...), strings.Join(forms, ", "))
	}
	for _, f := range families {
		var n []int
		switch {
		case f.maxArgs == 0 && name == f.name:
		case f.maxArgs > 0 && strings.HasPrefix(name, f.name+"-"):
			var err error
			n, err = positiveInts(strings.TrimPrefix(name, f.name+"-"))
			if err != nil || len(n) < f.minArgs || len(n) > f.maxArgs {
				return bad("want %s", f.want)
			}
		default:
			continue
		}
		s := Spec{Name: name, Family: f.name}
		if f.parse != nil {
			if problem := f.parse(&s, n); problem != "" {
				return bad("%s", problem)
			}
		}
		return s, nil
	}
	return bad("unknown architecture")
}

// positiveInts reads "28-10" as [28 10].
func positiveInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, "-") {
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// MarshalJSON writes the Spec's fields, and its family's definition
// version when above 1 (family.version): the JSON model keys hash.
func (s Spec) MarshalJSON() ([]byte, error) {
	type fields Spec // without this method
	v := 0
	if f := findFamily(s.Family); f != nil && f.version > 1 {
		v = f.version
	}
	return json.Marshal(struct {
		fields
		Version int `json:",omitzero"`
	}{fields(s), v})
}

func (s Spec) extractor() (extractor, error) {
	f := findFamily(s.Family)
	if f == nil {
		return nil, fmt.Errorf("nets: unknown architecture family %q", s.Family)
	}
	return f.build(s), nil
}

// headScale is the output scale of the architecture's classifier heads and
// whether they have a bias: (1, true) but for airbench's (1/9, false).
func (s Spec) headScale() (scale float32, bias bool) {
	f := findFamily(s.Family)
	if f == nil || f.headScale == 0 {
		return 1, f == nil || !f.headNoBias
	}
	return f.headScale, !f.headNoBias
}

// TakesDropout reports whether the architecture's blocks use Spec.Dropout
// (wrn's do).
func (s Spec) TakesDropout() bool {
	f := findFamily(s.Family)
	return f != nil && f.dropout
}

// dataInit is what an architecture computes from the training images before
// training, if anything (airbench's whitening filters).
func (s Spec) dataInit() func(m *Model, src Source) error {
	if f := findFamily(s.Family); f != nil {
		return f.dataInit
	}
	return nil
}
