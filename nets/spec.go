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
//	resnet9-C         the CPU default: the DAWNBench ResNet-9 of Page (2018) whose
//	                  first stage has C channels (see resnet.go)
type Spec struct {
	Name    string
	Family  string
	Depth   int     // densenet, wrn
	Growth  int     // densenet k
	Width   int     // wrn widening factor; resnet9 base channels
	Dropout float64 // wrn dropout between the two convolutions of a block
}

// extractor builds the feature extractor on x (C, N, H, W) and returns the
// features (N, F).
type extractor func(b *builder, x *G.Node) *G.Node

// ParseSpec reads an architecture name (see Spec).
func ParseSpec(name string) (Spec, error) {
	bad := func(format string, args ...any) (Spec, error) {
		return Spec{}, fmt.Errorf("network %q: %s (known: small, densenet-bc-L[-k], wrn-D-W, resnet9-C, mlp-H)", name, fmt.Sprintf(format, args...))
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
	case "mlp":
		return mlp(s.Width), nil
	}
	return nil, fmt.Errorf("nets: unknown architecture family %q", s.Family)
}

// smallNet is exactly the "small" network of shared/bench/torch_peer.py:
// three 3×3 convolutions (32, 64, 128 channels; strides 1, 2, 2), each
// followed by BN and ReLU, then global average pooling.
func smallNet(b *builder, x *G.Node) *G.Node {
	for i, c := range []struct{ ch, stride int }{{32, 1}, {64, 2}, {128, 2}} {
		x = b.conv(fmt.Sprintf("conv%d", i+1), x, c.ch, 3, c.stride, 1)
		x = b.bnReLU(fmt.Sprintf("bn%d", i+1), x)
	}
	return b.globalPool(x)
}

// denseNetBC is DenseNet-BC (Huang et al., CVPR 2017) as in the MCD
// authors' models/densenet.py: a 3×3 convolution to 2k channels, three dense
// blocks of (L−4)/6 bottleneck layers (BN-ReLU-1×1 conv to 4k, BN-ReLU-3×3
// conv to k, concatenated to the input), transitions (BN-ReLU-1×1 conv
// halving the channels, 2×2 average pooling), then BN-ReLU and global
// average pooling.
func denseNetBC(depth, k int) extractor {
	return func(b *builder, x *G.Node) *G.Node {
		n := (depth - 4) / 6
		c := 2 * k
		x = b.conv("conv1", x, c, 3, 1, 1)
		for blk := 1; blk <= 3; blk++ {
			for l := 1; l <= n; l++ {
				p := fmt.Sprintf("block%d.%d", blk, l)
				y := b.bnReLU(p+".bn1", x)
				y = b.conv(p+".conv1", y, 4*k, 1, 1, 0)
				y = b.bnReLU(p+".bn2", y)
				y = b.conv(p+".conv2", y, k, 3, 1, 1)
				x = b.concat(x, y)
				c += k
			}
			if blk < 3 {
				p := fmt.Sprintf("trans%d", blk)
				c /= 2 // floor(c·0.5): the authors' reduction = 0.5
				x = b.bnReLU(p+".bn", x)
				x = b.conv(p+".conv", x, c, 1, 1, 0)
				x = b.avgPool(x, 2, 2)
			}
		}
		x = b.bnReLU("bn", x)
		return b.globalPool(x)
	}
}

// wideResNet is WRN-D-W (Zagoruyko & Komodakis, BMVC 2016) as in the MCD
// authors' models/wideresnet.py, including its pre-activation blocks: where
// a block changes width, the BN-ReLU output feeds both the residual branch
// and the 1×1 shortcut convolution.
func wideResNet(depth, width int, dropout float64) extractor {
	return func(b *builder, x *G.Node) *G.Node {
		n := (depth - 4) / 6
		chans := []int{16, 16 * width, 32 * width, 64 * width}
		x = b.conv("conv1", x, chans[0], 3, 1, 1)
		for g := 1; g <= 3; g++ {
			for i := 1; i <= n; i++ {
				p := fmt.Sprintf("block%d.%d", g, i)
				cin, cout := x.Shape()[0], chans[g]
				stride := 1
				if i == 1 && g > 1 {
					stride = 2
				}
				var out, shortcut *G.Node
				if cin == cout {
					out = b.bnReLU(p+".bn1", x)
					shortcut = x
				} else {
					x = b.bnReLU(p+".bn1", x)
					out = x
					shortcut = b.conv(p+".shortcut", x, cout, 1, stride, 0)
				}
				out = b.conv(p+".conv1", out, cout, 3, stride, 1)
				out = b.bnReLU(p+".bn2", out)
				out = b.drop(out, dropout)
				out = b.conv(p+".conv2", out, cout, 3, 1, 1)
				x = b.add(shortcut, out)
			}
		}
		x = b.bnReLU("bn", x)
		return b.globalPool(x)
	}
}

// mlp averages each channel over the image (so a 2-D point written as two
// constant planes comes back as its coordinates) and applies two hidden
// layers of width h with ReLU: the toy network of the detector tests.
func mlp(h int) extractor {
	return func(b *builder, x *G.Node) *G.Node {
		f := b.globalPool(x)
		for i := 1; i <= 2; i++ {
			f = b.linear(fmt.Sprintf("fc%d", i), f, h)
			if b.err == nil {
				f = b.wrap(ReLU(f))
			}
		}
		return f
	}
}
