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
	"errors"
	"fmt"
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// CoreEnv names the variable that chooses OpenBLAS's kernels: "auto" (the
// default), "openblas" (OpenBLAS's own choice), or a core name such as
// "Haswell" or "SkylakeX".
//
// Auto honours OPENBLAS_CORETYPE when it is set (OpenBLAS's documented
// switch: OPENBLAS_CORETYPE=Haswell runs the AVX2 kernels a CPU without
// AVX-512 gets). Otherwise it picks SkylakeX (AVX-512) kernels on CPUs with
// AVX-512 and leaves the choice to OpenBLAS elsewhere: Debian's OpenBLAS
// 0.3.21 does not know AMD Zen 4/5 and falls back to its AVX2 (Haswell)
// kernels there, while its AVX-512 kernels run about 1.5× faster (measured
// on this project's 2-core Zen 5 machines). A core name OpenBLAS does not
// take is reported by EnvErr.
const CoreEnv = "MCDOOD_BLAS_CORE"

func init() {
	var core *C.char
	switch want := os.Getenv(CoreEnv); want {
	case "", "auto":
		if os.Getenv("OPENBLAS_CORETYPE") == "" && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL {
			core = C.CString("SkylakeX")
		}
	case "openblas":
	default:
		core = C.CString(want)
	}
	C.mcdood_openblas_setup(core)
	if want := os.Getenv(CoreEnv); core != nil && want != "" && want != "auto" {
		if got := C.GoString(C.openblas_get_corename()); !strings.EqualFold(got, want) {
			envErr = errors.Join(envErr, fmt.Errorf("%s=%q: OpenBLAS runs its %s kernels instead (see OpenBLAS's list of core names)", CoreEnv, want, got))
		}
	}
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
