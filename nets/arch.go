package nets

import (
	"fmt"
	"strconv"
	"strings"

	G "gorgonia.org/gorgonia"
)

// Spec names an architecture. Its Name is what TOML files and the CLI use:
//
//	small             the 3-convolution net of the PyTorch peer benchmark
//	densenet-bc-L[-k] DenseNet-BC of depth L, growth k (default 12)
//	                  (Huang et al., CVPR 2017); densenet-bc-100 is the paper's
//	wrn-D-W           Wide ResNet of depth D, width W (Zagoruyko & Komodakis,
//	                  BMVC 2016); wrn-28-10 is the paper's
//	mlp-H             a two-hidden-layer MLP of width H on the per-channel
//	                  means of the image: a toy network for tests on 2-D data
//	                  written into the first two channels
//	resnet9-C         the DAWNBench ResNet-9 of Page (2018) whose first stage
//	                  has C channels (arch_resnet9.go)
//	airbench-A-B-C    Jordan's airbench (2024) with block widths A, B, C:
//	                  airbench-64-256-256 is airbench94's, airbench-64-128-128
//	                  airbench93's (arch_airbench.go)
//	resnet-cifar-D    the CIFAR ResNet of depth D = 6n+2 of He et al. (CVPR
//	                  2016), option-A shortcuts, as akamaster's
//	                  pytorch_resnet_cifar10; resnet-cifar-56 is its
//	                  published ResNet-56 (arch_resnet_cifar.go)
type Spec struct {
	Name    string
	Family  string
	Depth   int     // densenet, wrn, resnet-cifar
	Growth  int     // densenet k
	Width   int     // wrn widening factor; resnet9 base channels
	Widths  [3]int  `json:",omitzero"` // airbench block widths (left out of JSON when zero, so older model keys stay)
	Dropout float64 // wrn dropout between the two convolutions of a block
}

// extractor builds the feature extractor on x (C, N, H, W) and returns the
// features (N, F).
type extractor func(b *builder, x *G.Node) *G.Node

// ParseSpec reads an architecture name (see Spec).
func ParseSpec(name string) (Spec, error) {
	bad := func(format string, args ...any) (Spec, error) {
		return Spec{}, fmt.Errorf("network %q: %s (known: small, densenet-bc-L[-k], wrn-D-W, resnet9-C, resnet-cifar-D, airbench-A-B-C, mlp-H)", name, fmt.Sprintf(format, args...))
	}
	nums := func(s string) ([]int, error) {
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
	switch {
	case name == "small":
		return Spec{Name: name, Family: "small"}, nil
	case strings.HasPrefix(name, "densenet-bc-"):
		n, err := nums(strings.TrimPrefix(name, "densenet-bc-"))
		if err != nil || len(n) > 2 {
			return bad("want densenet-bc-DEPTH or densenet-bc-DEPTH-GROWTH")
		}
		s := Spec{Name: name, Family: "densenet-bc", Depth: n[0], Growth: 12}
		if len(n) == 2 {
			s.Growth = n[1]
		}
		if (s.Depth-4)%6 != 0 || s.Depth < 10 {
			return bad("DenseNet-BC depth must be 6n+4 with n ≥ 1, got %d", s.Depth)
		}
		return s, nil
	case strings.HasPrefix(name, "wrn-"):
		n, err := nums(strings.TrimPrefix(name, "wrn-"))
		if err != nil || len(n) != 2 {
			return bad("want wrn-DEPTH-WIDTH")
		}
		if (n[0]-4)%6 != 0 || n[0] < 10 {
			return bad("WRN depth must be 6n+4 with n ≥ 1, got %d", n[0])
		}
		return Spec{Name: name, Family: "wrn", Depth: n[0], Width: n[1]}, nil
	case strings.HasPrefix(name, "mlp-"):
		n, err := nums(strings.TrimPrefix(name, "mlp-"))
		if err != nil || len(n) != 1 {
			return bad("want mlp-WIDTH")
		}
		return Spec{Name: name, Family: "mlp", Width: n[0]}, nil
	case strings.HasPrefix(name, "airbench-"):
		n, err := nums(strings.TrimPrefix(name, "airbench-"))
		if err != nil || len(n) != 3 {
			return bad("want airbench-WIDTH1-WIDTH2-WIDTH3")
		}
		return Spec{Name: name, Family: "airbench", Widths: [3]int{n[0], n[1], n[2]}}, nil
	case strings.HasPrefix(name, "resnet-cifar-"):
		n, err := nums(strings.TrimPrefix(name, "resnet-cifar-"))
		if err != nil || len(n) != 1 {
			return bad("want resnet-cifar-DEPTH")
		}
		if (n[0]-2)%6 != 0 || n[0] < 8 {
			return bad("CIFAR ResNet depth must be 6n+2 with n ≥ 1, got %d", n[0])
		}
		return Spec{Name: name, Family: "resnet-cifar", Depth: n[0]}, nil
	case strings.HasPrefix(name, "resnet9-"):
		n, err := nums(strings.TrimPrefix(name, "resnet9-"))
		if err != nil || len(n) != 1 {
			return bad("want resnet9-CHANNELS")
		}
		return Spec{Name: name, Family: "resnet9", Width: n[0]}, nil
	}
	return bad("unknown architecture")
}

func (s Spec) extractor() (extractor, error) {
	switch s.Family {
	case "small":
		return smallNet, nil
	case "densenet-bc":
		return denseNetBC(s.Depth, s.Growth), nil
	case "wrn":
		return wideResNet(s.Depth, s.Width, s.Dropout), nil
	case "resnet9":
		return resNet9(s.Width), nil
	case "resnet-cifar":
		return resNetCIFAR(s.Depth), nil
	case "mlp":
		return mlp(s.Width), nil
	case "airbench":
		return airbench(s.Widths), nil
	}
	return nil, fmt.Errorf("nets: unknown architecture family %q", s.Family)
}

// headScale is the output scale of the architecture's classifier heads and
// whether they have a bias: (1, true) but for airbench's (1/9, false).
func (s Spec) headScale() (scale float32, bias bool) {
	if s.Family == "airbench" {
		return airbenchHeadScale, false
	}
	return 1, true
}

// dataInit is what an architecture computes from the training images before
// training, if anything (airbench's whitening filters).
func (s Spec) dataInit() func(m *Model, src Source) error {
	if s.Family == "airbench" {
		return initWhitening
	}
	return nil
}
