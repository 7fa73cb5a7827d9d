package nets

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

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
