package nets

import (
	"fmt"
	"strconv"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func init() {
	register(family{
		name: "resnet-cifar", form: "resnet-cifar-D", want: "resnet-cifar-DEPTH", minArgs: 1, maxArgs: 1,
		doc: "the CIFAR ResNet of depth D = 6n+2 of He et al. (CVPR 2016), option-A shortcuts, as akamaster's pytorch_resnet_cifar10; resnet-cifar-56 is its published ResNet-56",
		parse: func(s *Spec, n []int) string {
			if (n[0]-2)%6 != 0 || n[0] < 8 {
				return fmt.Sprintf("CIFAR ResNet depth must be 6n+2 with n ≥ 1, got %d", n[0])
			}
			s.Depth = n[0]
			return ""
		},
		build: func(s Spec) extractor { return resNetCIFAR(s.Depth) },
		// akamaster's trainer.py trained on torchvision's ImageNet statistics.
		inputMean: ImageNetMean, inputStd: ImageNetStd,
		torchModule: resNetCIFARTorchModule,
		torchLayout: "resnet-cifar-D as akamaster's ResNet",
	})
}

// resNetCIFAR is the CIFAR ResNet of He et al. ("Deep Residual Learning for
// Image Recognition", CVPR 2016, Sec. 4.2) of depth 6n+2, as
// akamaster/pytorch_resnet_cifar10's resnet.py builds it (the code of its
// published resnet56-4bfd9763.th):
//
//	conv1: 3×3 conv 16, BN-ReLU                                    32×32
//	layer1..layer3: n basic blocks of 16, 32, 64 channels;         32, 16, 8
//	        the first block of layer2 and layer3 has stride 2
//	block:  3×3 conv, BN-ReLU, 3×3 conv, BN, + shortcut, ReLU
//	global average pooling → 64 features
//
// Shortcuts are option A: the identity, or, where a block halves the
// resolution and doubles the channels, x[:, :, ::2, ::2] zero-padded with
// planes/4 channels on each side. That is exactly a fixed 1×1 convolution of
// stride 2 whose weight is the identity placed at output channel planes/4;
// it is built so (a graph constant, not a parameter) and reuses the
// convolution op and its checked gradients. Blocks are numbered from 0 as in
// the authors' nn.Sequential, so our layer names are theirs. Convolutions are
// initialised He-normal with fan-in, as the authors' _weights_init
// (kaiming_normal_); the heads keep PyTorch's default.
func resNetCIFAR(depth int) extractor {
	return func(b *builder, x *G.Node) *G.Node {
		n := (depth - 2) / 6
		conv := func(name string, x *G.Node, cout, stride int) *G.Node {
			if b.err != nil {
				return nil
			}
			cin := x.Shape()[0]
			return b.convWith(name, x, cout, 3, stride, 1, heNormal(9*cin), Trained)
		}
		x = b.bnReLU("bn1", conv("conv1", x, 16, 1))
		for s, planes := range []int{16, 32, 64} {
			for i := 0; i < n; i++ {
				if b.err != nil {
					return nil
				}
				p := fmt.Sprintf("layer%d.%d", s+1, i)
				stride := 1
				if s > 0 && i == 0 {
					stride = 2
				}
				out := b.bnReLU(p+".bn1", conv(p+".conv1", x, planes, stride))
				out = b.bn(p+".bn2", conv(p+".conv2", out, planes, 1), false)
				shortcut := x
				if stride != 1 || x.Shape()[0] != planes {
					shortcut = b.shortcutA(x, planes)
				}
				x = b.relu(b.add(out, shortcut))
			}
		}
		return b.globalPool(x)
	}
}

// shortcutA is option A's shortcut to planes channels at half the
// resolution (see resNetCIFAR).
func (b *builder) shortcutA(x *G.Node, planes int) *G.Node {
	if b.err != nil {
		return nil
	}
	cin := x.Shape()[0]
	pad := planes / 4
	if cin+2*pad != planes {
		return b.fail(fmt.Errorf("nets: option-A shortcut from %d to %d channels", cin, planes))
	}
	w := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(planes, cin, 1, 1))
	for c := 0; c < cin; c++ {
		f32(w)[(c+pad)*cin+c] = 1
	}
	name := fmt.Sprintf("shortcutA.%d", len(b.g.AllNodes()))
	wn := G.NewTensor(b.g, tensor.Float32, 4, G.WithShape(planes, cin, 1, 1), G.WithValue(w), G.WithName(name))
	return b.wrap(conv2D(x, wn, 2, 0, b.cols))
}

func (b *builder) relu(x *G.Node) *G.Node {
	if b.err != nil {
		return nil
	}
	return b.wrap(ReLU(x))
}

// resNetCIFARTorchModule is the module of akamaster's ResNet that our layer
// is: the same name (conv1, bn1, layerS.I.conv1 …), but head1, which is
// linear.
func resNetCIFARTorchModule(layer string) (string, bool) {
	if layer == "head1" {
		return "linear", true
	}
	if layer == "conv1" || layer == "bn1" {
		return layer, true
	}
	parts := strings.Split(layer, ".")
	if len(parts) == 3 && strings.HasPrefix(parts[0], "layer") {
		if _, err := strconv.Atoi(parts[1]); err == nil {
			switch parts[2] {
			case "conv1", "bn1", "conv2", "bn2":
				return layer, true
			}
		}
	}
	return "", false
}
