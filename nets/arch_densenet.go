package nets

import (
	"fmt"
	"strconv"
	"strings"

	G "gorgonia.org/gorgonia"
)

func init() {
	register(family{
		name: "densenet-bc", form: "densenet-bc-L[-k]", want: "densenet-bc-DEPTH or densenet-bc-DEPTH-GROWTH", minArgs: 1, maxArgs: 2,
		doc: "DenseNet-BC of depth L, growth k (default 12) (Huang et al., CVPR 2017); densenet-bc-100 is the paper's",
		parse: func(s *Spec, n []int) string {
			s.Depth, s.Growth = n[0], 12
			if len(n) == 2 {
				s.Growth = n[1]
			}
			if (s.Depth-4)%6 != 0 || s.Depth < 10 {
				return fmt.Sprintf("DenseNet-BC depth must be 6n+4 with n ≥ 1, got %d", s.Depth)
			}
			return ""
		},
		build:       func(s Spec) extractor { return denseNetBC(s.Depth, s.Growth) },
		torchModule: denseNetTorchModule,
		torchLayout: "densenet-bc-L-k as ODIN's DenseNet3",
	})
}

// denseNetBC is DenseNet-BC (Huang et al., CVPR 2017) as in the MCD
// authors' models/densenet.py: a 3×3 convolution to 2k channels, three dense
// blocks of (L−4)/6 bottleneck layers (BN-ReLU-1×1 conv to 4k, BN-ReLU-3×3
// conv to k, concatenated to the input), transitions (BN-ReLU-1×1 conv
// halving the channels, 2×2 average pooling), then BN-ReLU and global
// average pooling. Each dense block is one DenseBlock op, which shares the
// concatenations' storage (Pleiss et al., 2017; op_dense.go).
func denseNetBC(depth, k int) extractor {
	return func(b *builder, x *G.Node) *G.Node {
		n := (depth - 4) / 6
		c := 2 * k
		x = b.conv("conv1", x, c, 3, 1, 1)
		for blk := 1; blk <= 3; blk++ {
			x = b.denseBlock(fmt.Sprintf("block%d", blk), x, n, k)
			c += n * k
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

// sharedDenseBlocks builds each dense block as one DenseBlock op over shared
// storage (Pleiss et al., 2017); false builds it layer by layer with a
// concatenation after each, the reference the tests compare it with.
var sharedDenseBlocks = true

// denseBlock is dense block name of n bottleneck layers of growth rate k
// on x; layer l's parameters are name.l.bn1, .conv1, .bn2, .conv2, created
// in that order in either form.
func (b *builder) denseBlock(name string, x *G.Node, n, k int) *G.Node {
	if b.err != nil {
		return nil
	}
	if !sharedDenseBlocks {
		for l := 1; l <= n; l++ {
			p := fmt.Sprintf("%s.%d", name, l)
			y := b.bnReLU(p+".bn1", x)
			y = b.conv(p+".conv1", y, 4*k, 1, 1, 0)
			y = b.bnReLU(p+".bn2", y)
			y = b.conv(p+".conv2", y, k, 3, 1, 1)
			x = b.concat(x, y)
		}
		return x
	}
	var params G.Nodes
	var sts []*bnState
	relu := BNOptions{Act: ActReLU}
	bn := func(name string, c int) {
		params = append(params, b.param(name+".gamma", []int{c}, constInit(1)), b.paramRole(name+".beta", []int{c}, constInit(0), NormShift))
		sts = append(sts, b.m.bnState(name, c, relu))
	}
	conv := func(name string, cin, cout, size int) {
		params = append(params, b.param(name+".w", []int{cout, cin, size, size}, heNormal(size*size*cout)))
	}
	c := x.Shape()[0]
	for l := 1; l <= n; l++ {
		p := fmt.Sprintf("%s.%d", name, l)
		bn(p+".bn1", c)
		conv(p+".conv1", c, 4*k, 1)
		bn(p+".bn2", 4*k)
		conv(p+".conv2", 4*k, k, 3)
		c += k
	}
	if b.err != nil {
		return nil
	}
	if b.dense == nil {
		b.dense = &denseScratch{}
	}
	y := b.wrap(DenseBlock(x, params, sts, b.training, ActReLU, b.dense))
	if y != nil {
		b.blocks = append(b.blocks, y.Op().(*denseBlockOp))
	}
	return y
}

// denseNetTorchModule is the module of ODIN's DenseNet3
// (facebookresearch/odin, code/densenet.py; the architecture of its
// published densenet10.pth and densenet100.pth) that our layer is: conv1 is
// conv1; blockB.L's bn1, conv1, bn2, conv2 are blockB.layer.(L−1)'s; transT.bn
// and transT.conv are transT.bn1 and transT.conv1; bn is bn1; head1 is fc.
// DenseNet3(depth, classes, growth_rate=k, reduction=0.5, bottleneck=True)
// is our densenet-bc-depth-k layer for layer.
func denseNetTorchModule(layer string) (string, bool) {
	switch layer {
	case "conv1":
		return "conv1", true
	case "bn":
		return "bn1", true
	case "head1":
		return "fc", true
	}
	parts := strings.Split(layer, ".")
	switch {
	case len(parts) == 3 && strings.HasPrefix(parts[0], "block"):
		l, err := strconv.Atoi(parts[1])
		if err != nil || l < 1 {
			return "", false
		}
		switch parts[2] {
		case "bn1", "conv1", "bn2", "conv2":
			return fmt.Sprintf("%s.layer.%d.%s", parts[0], l-1, parts[2]), true
		}
	case len(parts) == 2 && strings.HasPrefix(parts[0], "trans"):
		switch parts[1] {
		case "bn":
			return parts[0] + ".bn1", true
		case "conv":
			return parts[0] + ".conv1", true
		}
	}
	return "", false
}
