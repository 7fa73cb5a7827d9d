package nets

import (
	G "gorgonia.org/gorgonia"
)

func init() {
	register(family{
		name: "resnet9", form: "resnet9-C", want: "resnet9-CHANNELS", minArgs: 1, maxArgs: 1,
		doc:   "the DAWNBench ResNet-9 of Page (2018) whose first stage has C channels",
		parse: func(s *Spec, n []int) string { s.Width = n[0]; return "" },
		build: func(s Spec) extractor { return resNet9(s.Width) },
	})
}

// resNet9 is the CPU default extractor: the ResNet-9 that Page (2018,
// "How to train your ResNet", DAWNBench) trained to 94% CIFAR-10 accuracy in
// minutes on one GPU, with its widths divided by 64/c:
//
//	prep:   3×3 conv c, BN-ReLU                          32×32
//	layer1: 3×3 conv 2c, BN-ReLU, 2×2 max pool           16×16
//	        + residual (3×3 conv 2c, BN-ReLU) ×2
//	layer2: 3×3 conv 4c, BN-ReLU, 2×2 max pool           8×8
//	layer3: 3×3 conv 8c, BN-ReLU, 2×2 max pool           4×4
//	        + residual (3×3 conv 8c, BN-ReLU) ×2
//	global average pooling → 8c features
//
// Page uses c = 64; the CPU default is much narrower (the README gives the
// accuracy per CPU-minute measured here). Pooling follows BN-ReLU, as in
// Page's code.
func resNet9(c int) extractor {
	return func(b *builder, x *G.Node) *G.Node {
		x = b.bnReLU("prep.bn", b.conv("prep.conv", x, c, 3, 1, 1))
		stage := func(name string, x *G.Node, ch int, residual bool) *G.Node {
			x = b.bnReLU(name+".bn", b.conv(name+".conv", x, ch, 3, 1, 1))
			x = b.maxPool(x)
			if residual {
				r := b.bnReLU(name+".res1.bn", b.conv(name+".res1.conv", x, ch, 3, 1, 1))
				r = b.bnReLU(name+".res2.bn", b.conv(name+".res2.conv", r, ch, 3, 1, 1))
				x = b.add(x, r)
			}
			return x
		}
		x = stage("layer1", x, 2*c, true)
		x = stage("layer2", x, 4*c, false)
		x = stage("layer3", x, 8*c, true)
		return b.globalPool(x)
	}
}
