//go:build openblas && cgo

package nets

/*
#cgo CFLAGS: -O3
#cgo LDFLAGS: -lm
#include "kernels_cgo.h"
*/
import "C"

import "unsafe"

// The levels of the native kernels (kernels_cgo.h), fastest first.
var nativeLevels = []struct {
	name  string
	level C.int
}{{"avx512", C.NK_AVX512}, {"avx2", C.NK_AVX2}, {"generic", C.NK_GENERIC}}

func kernelLevels() []string {
	var names []string
	for _, l := range nativeLevels {
		if C.nk_supported(l.level) != 0 {
			names = append(names, l.name)
		}
	}
	return names
}

func useKernelLevel(name string) {
	for _, l := range nativeLevels {
		if l.name == name && C.nk_select(l.level) == 0 {
			return
		}
	}
	panic("nets: kernel level " + name + " not supported")
}

func init() {
	im2col = nativeIm2col
	col2im = nativeCol2im
	moments = nativeMoments
	scaleShift = nativeScaleShift
	bnGradSums = nativeBNGradSums
	bnGradInput = nativeBNGradInput
	bnGradInputAdd = nativeBNGradInputAdd
	maxPool2 = nativeMaxPool2
	conv3x3Direct = nativeConv3x3Direct
	toBlocked = nativeToBlocked
	fromBlocked = nativeFromBlocked
	packedGEMM = &packedKernels{tile: nativePwTile, packA: nativePwPackA, packB: nativePwPackB, gemm: nativePwGemm, conv3x3: nativePwConv3x3, weightGrad3x3: nativePwWeightGrad3x3, weightGrad1x1: nativePwWeightGrad1x1, sizeT: nativePwSizeT}
}

func nativePwTile() (mr, nr int) {
	var m, n C.long
	C.nk_pw_tile(&m, &n)
	return int(m), int(n)
}

func nativePwPackA(w []float32, m, k int, trans bool, ap []float32) {
	_, _ = w[m*k-1], ap[packedGEMM.sizeA(m, k)-1]
	rs, cs := k, 1
	if trans {
		rs, cs = 1, m
	}
	C.nk_pw_pack_a(fp(w), C.long(m), C.long(k), C.long(rs), C.long(cs), fp(ap))
}

// cmap is the C view of a per-channel map of c channels (a, b, act; a
// nil for none), as nk_scale_shift takes it.
func cmap(c int, a, b []float32, act Act) (pa, pb *C.float, cact C.int) {
	if a == nil {
		return nil, nil, 0
	}
	_, _ = a[c-1], b[c-1]
	return fp(a), fp(b), C.int(act)
}

func nativePwPackB(x []float32, ld, k, p0, p1 int, a, b []float32, act Act, bp []float32) {
	_, _ = x[(k-1)*ld+p1-1], bp[packedGEMM.sizeB(p1-p0, k)-1]
	pa, pb, cact := cmap(k, a, b, act)
	C.nk_pw_pack_b(fp(x), C.long(ld), C.long(k), C.long(p0), C.long(p1), pa, pb, cact, fp(bp))
}

func nativePwConv3x3(x, a, b []float32, act Act, ap []float32, g geom, cout, n0, n1 int, y []float32, ldy int) {
	_, _ = x[g.C*g.N*g.H*g.W-1], ap[packedGEMM.sizeA(cout, g.K)-1]
	_ = y[(cout-1)*ldy+n1*g.Pix-1]
	cg := cgeom(g)
	pa, pb, cact := cmap(g.C, a, b, act)
	C.nk_pw_conv3x3(fp(x), pa, pb, cact, fp(ap), &cg, C.long(cout), C.long(n0), C.long(n1), fp(y), C.long(ldy))
}

func nativePwWeightGrad3x3(x, a, b []float32, act Act, dy []float32, g geom, cout, n0, n1 int, dw []float32) bool {
	_, _, _ = x[g.C*g.N*g.H*g.W-1], dy[cout*g.N*g.Pix-1], dw[cout*g.K-1]
	cg := cgeom(g)
	pa, pb, cact := cmap(g.C, a, b, act)
	return C.nk_pw_conv3x3_wgrad(fp(x), pa, pb, cact, fp(dy), &cg, C.long(cout), C.long(n0), C.long(n1), fp(dw)) == 0
}

func nativePwSizeT(m, k, n int) int { return int(C.nk_pw_wgrad_len(C.long(m), C.long(k), C.long(n))) }

func nativePwWeightGrad1x1(dy []float32, ldy, m int, x []float32, ld, k, p0, p1 int, a, b []float32, act Act, t, dw []float32) {
	_, _ = dy[(m-1)*ldy+p1-1], x[(k-1)*ld+p1-1]
	_, _ = t[nativePwSizeT(m, k, p1-p0)-1], dw[m*k-1]
	pa, pb, cact := cmap(k, a, b, act)
	C.nk_pw_wgrad(fp(dy), C.long(ldy), C.long(m), fp(x), C.long(ld), C.long(k), C.long(p0), C.long(p1), pa, pb, cact, fp(t), fp(dw))
}

func nativePwGemm(ap, bp []float32, m, n, k int, y []float32, ldy int, stream bool) {
	_, _ = ap[packedGEMM.sizeA(m, k)-1], bp[packedGEMM.sizeB(n, k)-1]
	_ = y[(m-1)*ldy+n-1]
	var cstream C.int
	if stream {
		cstream = 1
	}
	C.nk_pw_gemm(fp(ap), fp(bp), C.long(m), C.long(n), C.long(k), fp(y), C.long(ldy), cstream)
}

func nativeToBlocked(x []float32, c, n, hw, b, t0, t1 int, y []float32) {
	_, _ = x[c*n*hw-1], y[n*((c+b-1)/b)*hw*b-1]
	C.nk_to_blocked(fp(x), C.long(c), C.long(n), C.long(hw), C.long(b), C.long(t0), C.long(t1), fp(y))
}

func nativeFromBlocked(y []float32, c, n, hw, b, t0, t1 int, x []float32) {
	_, _ = x[c*n*hw-1], y[n*((c+b-1)/b)*hw*b-1]
	C.nk_from_blocked(fp(y), C.long(c), C.long(n), C.long(hw), C.long(b), C.long(t0), C.long(t1), fp(x))
}

func nativeConv3x3Direct(x, w []float32, g geom, cout, n0, n1 int, y []float32, ldy int, a, b []float32, act Act) {
	_ = x[g.C*g.N*g.H*g.W-1]
	_ = w[cout*g.K-1]
	_ = y[(cout-1)*ldy+n1*g.Pix-1]
	var pa, pb *C.float
	if a != nil {
		_, _ = a[cout-1], b[cout-1]
		pa, pb = fp(a), fp(b)
	}
	cg := cgeom(g)
	C.nk_conv3x3_direct(fp(x), fp(w), &cg, C.long(cout), C.long(n0), C.long(n1), fp(y), C.long(ldy), pa, pb, C.int(act))
}

func nativeMaxPool2(x, y []float32, argmax []int32, h, w int) {
	planes := len(x) / (h * w)
	if planes == 0 {
		return
	}
	_ = y[planes*(h/2)*(w/2)-1]
	_ = argmax[planes*(h/2)*(w/2)-1]
	C.nk_maxpool2(fp(x), fp(y), (*C.int)(unsafe.Pointer(&argmax[0])), C.long(planes), C.long(h), C.long(w))
}

func fp(s []float32) *C.float { return (*C.float)(unsafe.Pointer(unsafe.SliceData(s))) }

func cgeom(g geom) C.nk_geom {
	return C.nk_geom{C: C.long(g.C), N: C.long(g.N), H: C.long(g.H), W: C.long(g.W), KH: C.long(g.KH), KW: C.long(g.KW),
		Stride: C.long(g.Stride), Pad: C.long(g.Pad), OH: C.long(g.OH), OW: C.long(g.OW)}
}

func nativeIm2col(x []float32, g geom, n0, n1 int, col []float32) {
	_ = col[g.K*(n1-n0)*g.Pix-1]
	_ = x[g.C*g.N*g.H*g.W-1]
	cg := cgeom(g)
	C.nk_im2col(fp(x), &cg, C.long(n0), C.long(n1), fp(col))
}

func nativeCol2im(col []float32, g geom, n0, n1 int, dx []float32) {
	_ = col[g.K*(n1-n0)*g.Pix-1]
	_ = dx[g.C*g.N*g.H*g.W-1]
	cg := cgeom(g)
	C.nk_col2im(fp(col), &cg, C.long(n0), C.long(n1), fp(dx))
}

func nativeMoments(row []float32) (mean, variance float64) {
	var m, v C.double
	C.nk_moments(fp(row), C.long(len(row)), &m, &v)
	return float64(m), float64(v)
}

func nativeScaleShift(x, out []float32, a, b float32, act Act) {
	_ = out[len(x)-1]
	if len(x) > 0 && &x[0] == &out[0] {
		C.nk_scale_shift_inplace(fp(x), C.long(len(x)), C.float(a), C.float(b), C.int(act))
		return
	}
	C.nk_scale_shift(fp(x), fp(out), C.long(len(x)), C.float(a), C.float(b), C.int(act))
}

func nativeBNGradSums(x, dy []float32, mean, invstd, a, b float32, act Act) (sumG, sumGX float64) {
	_ = dy[len(x)-1]
	var sg, sgx C.double
	C.nk_bn_grad_sums(fp(x), fp(dy), C.long(len(x)), C.float(mean), C.float(invstd), C.float(a), C.float(b), C.int(act), &sg, &sgx)
	return float64(sg), float64(sgx)
}

func nativeBNGradInputAdd(x, dy, src, dst []float32, mean, invstd, a, b, k, c1, c2 float32, act Act) {
	_, _ = dy[len(x)-1], src[len(x)-1]
	_ = dst[len(x)-1]
	C.nk_bn_grad_input_add(fp(x), fp(dy), fp(src), fp(dst), C.long(len(x)), C.float(mean), C.float(invstd), C.float(a), C.float(b), C.float(k), C.float(c1), C.float(c2), C.int(act))
}

func nativeBNGradInput(x, dy, dx []float32, mean, invstd, a, b, k, c1, c2 float32, act Act) {
	_ = dy[len(x)-1]
	_ = dx[len(x)-1]
	C.nk_bn_grad_input(fp(x), fp(dy), fp(dx), C.long(len(x)), C.float(mean), C.float(invstd), C.float(a), C.float(b), C.float(k), C.float(c1), C.float(c2), C.int(act))
}

// fmaPeakFLOPs runs the selected level's multiply-add peak loop
// (kernels_body.h, fma_peak) for iters rounds and returns its FLOPs.
func fmaPeakFLOPs(iters int) float64 { return float64(C.nk_fma_peak(C.long(iters))) }
