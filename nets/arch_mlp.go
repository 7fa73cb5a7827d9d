package nets

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

func init() {
	register(family{
		name: "mlp", form: "mlp-H", want: "mlp-WIDTH", minArgs: 1, maxArgs: 1,
		doc:   "a two-hidden-layer MLP of width H on the per-channel means of the image: a toy network for tests on 2-D data written into the first two channels",
		parse: func(s *Spec, n []int) string { s.Width = n[0]; return "" },
		build: func(s Spec) extractor { return mlp(s.Width) },
	})
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
