//go:build dnnl && openblas && cgo

package nets

/*
#cgo CFLAGS: -fopenmp
#cgo LDFLAGS: -ldnnl -lgomp
#include <stdlib.h>
#include <oneapi/dnnl/dnnl.h>
#include "conv_dnnl.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
)

const dnnlBuilt = true

var dnnlInit = sync.OnceValue(func() error {
	// oneDNN's instruction set is fixed by its first primitive: the AVX2
	// kernel level caps it at AVX2 (what a CPU without AVX-512 runs).
	if st := C.dc_init(C.int(btoi(kernelLevel == "avx2"))); st != 0 {
		return fmt.Errorf("nets: oneDNN: %s", C.GoString(C.dc_status(st)))
	}
	return nil
})

// dnnlConv is one convolution's oneDNN primitives, built on first use; off
// marks the passes oneDNN refused, which then run on the GEMM path.
type dnnlConv struct {
	h   *C.dc_conv
	off [3]bool
}

// run runs a pass (forward: x, w → y; backward data: w, dy → dx; backward
// weights: x, dy → dw) on oneDNN and reports whether it did; when it did not,
// nothing was written and the caller computes the pass itself. keep (fixed
// by the first call) makes the forward pass hold its blocked x for the
// weight gradient of the same x.
func (d *dnnlConv) run(pass int, g geom, cout int, inference, keep bool, in0, in1, out []float32) bool {
	if d.off[pass] { // onDNNL has checked that oneDNN started
		return false
	}
	if d.h == nil {
		d.h = C.dc_new(C.long(g.N), C.long(g.C), C.long(g.H), C.long(g.W), C.long(cout), C.long(g.KH), C.long(g.KW),
			C.long(g.Stride), C.long(g.Pad), C.int(btoi(inference)), C.int(btoi(keep)))
		if d.h == nil {
			d.off = [3]bool{true, true, true}
			return false
		}
		runtime.AddCleanup(d, func(h *C.dc_conv) { C.dc_free(h) }, d.h)
	}
	x, w, y := g.C*g.N*g.H*g.W, cout*g.K, cout*g.N*g.Pix
	sizes := [3][3]int{{x, w, y}, {w, y, x}, {x, y, w}}[pass]
	if len(in0) < sizes[0] || len(in1) < sizes[1] || len(out) < sizes[2] {
		panic(fmt.Sprintf("nets: oneDNN convolution pass %d: slices %d, %d, %d for %d, %d, %d floats", pass, len(in0), len(in1), len(out), sizes[0], sizes[1], sizes[2]))
	}
	if st := C.dc_run(d.h, C.int(pass), fp(in0), fp(in1), fp(out), C.int(Threads())); st != 0 {
		d.off[pass] = true
		return false
	}
	return true
}

// impl names oneDNN's implementation of a pass that has run ("" if none).
func (d *dnnlConv) impl(pass int) string {
	if d.h == nil {
		return ""
	}
	return C.GoString(C.dc_impl(d.h, C.int(pass)))
}

// forget drops what the passes kept for the next ones (dc_forget): the
// caller ran a pass itself. A convolution that never ran on oneDNN (nil)
// kept nothing.
func (d *dnnlConv) forget() {
	if d != nil && d.h != nil {
		C.dc_forget(d.h)
	}
}

// reuses counts the reorders this convolution has skipped.
func (d *dnnlConv) reuses() int {
	if d == nil || d.h == nil {
		return 0
	}
	return int(C.dc_reuses(d.h))
}

// dnnlVersion is the oneDNN library's version.
func dnnlVersion() string {
	v := C.dnnl_version()
	return fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
