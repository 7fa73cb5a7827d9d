package nets

import (
	"errors"
	"fmt"
	"os"
)

// ConvEnv names the variable that picks how 3×3 (and larger) convolutions
// run: "auto" (the default: oneDNN's direct convolution where the build has
// it, the dnnl build tag, and the kernel level is not "generic"), "dnnl", or
// "gemm" (im2col and the BLAS, which 1×1 convolutions always use). oneDNN's
// instruction set follows the kernel level the first convolution runs at:
// MCDOOD_KERNELS=avx2 caps it at AVX2.
const ConvEnv = "MCDOOD_CONV"

var convChoice = "auto"

// The passes of a convolution, numbered as conv_dnnl.h numbers them.
const (
	passForward = iota
	passBackwardData
	passBackwardWeights
)

func init() {
	if err := SetConv(os.Getenv(ConvEnv)); err != nil {
		envErr = errors.Join(envErr, err)
	}
}

// SetConv selects the convolution by name ("auto" or "" for the default),
// returning an error, changing nothing, for one this build does not have. It
// must not be called while a program runs.
func SetConv(name string) error {
	switch name {
	case "", "auto":
		convChoice = "auto"
	case "gemm":
		convChoice = name
	case "dnnl":
		if !dnnlBuilt {
			return fmt.Errorf("%s=%q: this build has no oneDNN (build with the dnnl tag and Debian's libdnnl-dev; auto or gemm)", ConvEnv, name)
		}
		if err := dnnlInit(); err != nil {
			return fmt.Errorf("%s=%q: %w", ConvEnv, name, err)
		}
		convChoice = name
	default:
		return fmt.Errorf("%s=%q: want auto, dnnl or gemm", ConvEnv, name)
	}
	return nil
}

// convOnDNNL reports whether convolutions run on oneDNN now.
func convOnDNNL() bool {
	switch convChoice {
	case "dnnl":
		return true
	case "auto":
		return dnnlBuilt && kernelLevel != "generic" && dnnlInit() == nil
	}
	return false
}

// Conv names the convolution in use, for logs and records.
func Conv() string {
	if convOnDNNL() {
		return "oneDNN " + dnnlVersion()
	}
	return "im2col+GEMM"
}

// onDNNL runs a pass of the convolution op on oneDNN when that is the
// convolution in use, making its primitives on first use, and reports whether
// it ran; 1×1 convolutions stay GEMMs. The three passes of a convolution share
// its primitives, so that its weight gradient can take the blocked copies its
// forward pass (when op.keep) and its input gradient made.
func (op *convOp) onDNNL(pass int, in0, in1, out []float32) bool {
	if op.g.pointwise() || !convOnDNNL() {
		return false
	}
	if op.dn == nil {
		op.dn = new(dnnlConv)
	}
	return op.dn.run(pass, op.g, op.cout, !op.training, op.keep && op.training, in0, in1, out)
}
