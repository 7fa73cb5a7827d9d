package nets

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

func init() {
	register(family{
		name: "small", form: "small",
		doc:   "the 3-convolution net of the PyTorch peer benchmark",
		build: func(Spec) extractor { return smallNet },
	})
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
