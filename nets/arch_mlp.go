package nets

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

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
