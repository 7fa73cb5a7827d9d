//go:build openblas && cgo

package nets

/*
#cgo LDFLAGS: -lopenblas
#include <stdlib.h>
#include <cblas.h>

void gotoblas_dynamic_init(void);
void gotoblas_dynamic_quit(void);

// mcdood_openblas_setup re-selects OpenBLAS's kernels (core) by name, the
// documented OPENBLAS_CORETYPE way, and holds OpenBLAS to one thread.
static void mcdood_openblas_setup(const char *core) {
	if (core != NULL) {
		setenv("OPENBLAS_CORETYPE", core, 1);
		gotoblas_dynamic_quit();
		gotoblas_dynamic_init();
	}
	openblas_set_num_threads(1);
}
*/
import "C"

import (
	"os"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// CoreEnv names the variable that chooses OpenBLAS's kernels: "auto" (the
// default), "openblas" (OpenBLAS's own choice, which honours
// OPENBLAS_CORETYPE), or a core name such as "Haswell" or "SkylakeX".
//
// Auto picks SkylakeX (AVX-512) kernels on CPUs with AVX-512, and otherwise
// leaves the choice to OpenBLAS. Debian's OpenBLAS 0.3.21 does not know AMD
// Zen 4/5 and falls back to its AVX2 (Haswell) kernels — some images even set
// OPENBLAS_CORETYPE=Haswell — while its AVX-512 kernels run about 1.5× faster
// there (measured on this project's 2-core Zen 5 machines).
const CoreEnv = "MCDOOD_BLAS_CORE"

func init() {
	var core *C.char
	switch want := os.Getenv(CoreEnv); want {
	case "", "auto":
		if cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL {
			core = C.CString("SkylakeX")
		}
	case "openblas":
	default:
		core = C.CString(want)
	}
	C.mcdood_openblas_setup(core)
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
