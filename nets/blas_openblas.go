//go:build openblas && cgo

package nets

/*
#cgo LDFLAGS: -lopenblas
#include <stdlib.h>
#include <cblas.h>

void gotoblas_dynamic_init(void);
void gotoblas_dynamic_quit(void);

// Debian's OpenBLAS 0.3.21 does not know AMD Zen 4/5 and falls back to its
// AVX2 (Haswell) kernels; its AVX-512 (SkylakeX) kernels are about 1.5x faster
// there. Re-select the core the documented way (OPENBLAS_CORETYPE) unless the
// user chose one.
static void mcdood_openblas_setup(int avx512) {
	if (avx512 && getenv("OPENBLAS_CORETYPE") == NULL) {
		setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
		gotoblas_dynamic_quit();
		gotoblas_dynamic_init();
	}
	openblas_set_num_threads(1);
}
*/
import "C"

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

func init() {
	avx512 := 0
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL {
		avx512 = 1
	}
	C.mcdood_openblas_setup(C.int(avx512))
	sgemm = func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		if m == 0 || n == 0 {
			return
		}
		ta, tb := uint32(C.CblasNoTrans), uint32(C.CblasNoTrans)
		if transA {
			ta = C.CblasTrans
		}
		if transB {
			tb = C.CblasTrans
		}
		checkGemm(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
		C.cblas_sgemm(C.CblasRowMajor, ta, tb, C.blasint(m), C.blasint(n), C.blasint(k), C.float(alpha),
			(*C.float)(unsafe.Pointer(&a[0])), C.blasint(lda),
			(*C.float)(unsafe.Pointer(&b[0])), C.blasint(ldb), C.float(beta),
			(*C.float)(unsafe.Pointer(&c[0])), C.blasint(ldc))
	}
}

func blasName() string { return "openblas (core " + C.GoString(C.openblas_get_corename()) + ")" }
