package nets

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// The oneDNN convolution (the dnnl build) matches im2col + GEMM in all three
// passes, on the geometries this package's networks use and on odd ones, and
// runs oneDNN's JIT kernels, not its slow reference ones, capped at AVX2 when
// MCDOOD_KERNELS=avx2 started the process (make test runs it so). Its weight
// gradient takes the blocked input the forward pass kept and the blocked
// output gradient the input gradient left — and reorders afresh when it is
// given other buffers.
func TestDNNLConvMatchesGEMM(t *testing.T) {
	if !dnnlBuilt {
		t.Skip("no oneDNN in this build")
	}
	defer SetConv(convChoice)
	rng := rand.New(rand.NewPCG(9, 9))
	for _, c := range []struct {
		g    geom
		cout int
		jit  bool // the default network's shapes must not fall to oneDNN's reference kernels
	}{
		{newGeom(3, 4, 32, 32, 3, 3, 1, 1), 16, true},   // the image layer
		{newGeom(16, 3, 32, 32, 3, 3, 1, 1), 32, true},  // resnet9-16's layer1
		{newGeom(32, 5, 16, 16, 3, 3, 1, 1), 64, true},  // layer2
		{newGeom(128, 2, 4, 4, 3, 3, 1, 1), 128, true},  // layer3's residual
		{newGeom(12, 3, 9, 7, 3, 3, 2, 1), 20, false},   // stride 2, odd sizes
		{newGeom(5, 2, 7, 5, 5, 5, 1, 2), 6, false},     // 5×5
		{newGeom(6, 1, 10, 11, 3, 3, 2, 0), 10, false},  // no padding, one image
		{newGeom(48, 2, 8, 8, 3, 3, 1, 1), 12, false},   // a DenseNet-BC 3×3 layer (k = 12)
		{newGeom(48, 2, 32, 32, 3, 3, 1, 1), 12, false}, // the same in the first block
		{newGeom(24, 3, 16, 24, 3, 3, 1, 1), 6, false},  // k = 6, a width of 24
		{newGeom(5, 2, 7, 7, 3, 3, 1, 1), 12, false},    // an odd width
	} {
		g, cout := c.g, c.cout
		x, w, dy := randSlice(rng, g.C*g.N*g.H*g.W), randSlice(rng, cout*g.K), randSlice(rng, cout*g.N*g.Pix)
		var fwd *convOp
		var gw *convGradWeightOp
		passes := func(conv string) (y, dx, dw []float32, impls []string) {
			if err := SetConv(conv); err != nil {
				t.Fatal(err)
			}
			fwd = &convOp{g: g, cout: cout, training: true, keep: true}
			gi := &convGradInputOp{fwd: fwd, g: g, cout: cout}
			gw = &convGradWeightOp{fwd: fwd, g: g, cout: cout}
			// Outputs are written whole: start them at garbage, and write y
			// into a longer slice, as a dense block writes its channels.
			y, dx, dw = fill(cout*g.N*g.Pix+7, 99), fill(len(x), 99), fill(len(w), 99)
			fwd.forward(x, w, y)
			gi.backward(w, dy, dx)
			gw.weightGrad(x, dy, dw)
			if fwd.dn != nil {
				impls = []string{fwd.dn.impl(passForward), fwd.dn.impl(passBackwardData), fwd.dn.impl(passBackwardWeights)}
			}
			return y[:cout*g.N*g.Pix], dx, dw, impls
		}
		y, dx, dw, _ := passes("gemm")
		// The weight gradient of other buffers, x2 with dy and x with dy2, on
		// a convolution that keeps no columns.
		x2, dy2 := randSlice(rng, len(x)), randSlice(rng, len(dy))
		dwX2, dwDy2 := make([]float32, len(w)), make([]float32, len(w))
		plain := &convGradWeightOp{fwd: &convOp{g: g, cout: cout, training: true}, g: g, cout: cout}
		plain.weightGrad(x2, dy, dwX2)
		plain.weightGrad(x, dy2, dwDy2)
		y1, ddx, ddw, impls := passes("dnnl")
		// A convolution whose outputs oneDNN would pad runs on the packed
		// GEMM's kernels instead (packed3x3): its forward pass and input
		// gradient always, its weight gradient where the width suits them.
		packed := packed3x3(g, cout) != nil
		impls = append(impls, "", "", "")[:3]
		if packed && (impls[0] != "" || impls[1] != "") || !packed && (impls[0] == "" || impls[1] == "" || impls[2] == "") {
			t.Fatalf("%+v cout %d: oneDNN did not run the passes it should (%q; on the packed GEMM: %v)", g, cout, impls, packed)
		}
		for i, impl := range impls {
			if impl == "" {
				continue
			}
			if c.jit && !strings.HasPrefix(impl, "jit:") {
				t.Errorf("%+v cout %d: pass %d runs %q, not a JIT kernel", g, cout, i, impl)
			}
			if Kernels() == "avx2" && strings.Contains(impl, "avx512") {
				t.Errorf("kernel level avx2, but oneDNN runs %q", impl)
			}
		}
		what := fmt.Sprintf("%+v cout %d: ", g, cout)
		if n := fwd.dn.reuses(); c.jit && n != 2 {
			t.Errorf("%sthe weight gradient skipped %d reorders, want 2 (the kept input, the input gradient's blocked dy)", what, n)
		}
		closeToScale(t, what+"forward", y1, y, 1e-5)
		closeToScale(t, what+"input gradient", ddx, dx, 1e-5)
		closeToScale(t, what+"weight gradient", ddw, dw, 1e-5)
		got := make([]float32, len(w))
		gw.weightGrad(x2, dy, got)
		closeToScale(t, what+"weight gradient of another x", got, dwX2, 1e-5)
		fwd.onDNNL(passBackwardData, w, dy, ddx)
		gw.weightGrad(x, dy2, got)
		closeToScale(t, what+"weight gradient of another dy, after the input gradient of dy", got, dwDy2, 1e-5)
	}
}

// closeToScale fails when an element of got is further from want than tol
// times want's largest magnitude: sums of many terms of both signs are
// rounded apart by about that much in any order.
func closeToScale(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	var scale float64
	for _, v := range want {
		scale = max(scale, math.Abs(float64(v)))
	}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > tol*scale {
			t.Fatalf("%s[%d] = %v, im2col+GEMM %v (scale %.3g)", what, i, got[i], want[i], scale)
		}
	}
}

func fill(n int, v float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = v
	}
	return s
}
