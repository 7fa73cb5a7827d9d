package nets

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

func init() {
	register(family{
		name: "wrn", form: "wrn-D-W", want: "wrn-DEPTH-WIDTH", minArgs: 2, maxArgs: 2,
		doc: "Wide ResNet of depth D, width W (Zagoruyko & Komodakis, BMVC 2016); wrn-28-10 is the paper's",
		parse: func(s *Spec, n []int) string {
			if (n[0]-4)%6 != 0 || n[0] < 10 {
				return fmt.Sprintf("WRN depth must be 6n+4 with n ≥ 1, got %d", n[0])
			}
			s.Depth, s.Width = n[0], n[1]
			return ""
		},
		build:   func(s Spec) extractor { return wideResNet(s.Depth, s.Width, s.Dropout) },
		dropout: true,
	})
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
