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

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
// mcdood_amd_family is the CPU family of an AMD processor (0x19 is Zen 3 and
// Zen 4, 0x1A Zen 5), or -1 on any other vendor.
static int mcdood_amd_family(void) {
	unsigned a, b, c, d;
	if (!__get_cpuid(0, &a, &b, &c, &d) || b != 0x68747541 || d != 0x69746e65 || c != 0x444d4163) {
		return -1; // not "AuthenticAMD"
	}
	__get_cpuid(1, &a, &b, &c, &d);
	int family = (a >> 8) & 0xf;
	if (family == 0xf) {
		family += (a >> 20) & 0xff;
	}
	return family;
}
#else
static int mcdood_amd_family(void) { return -1; }
#endif
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
// AVX-512 gets). Otherwise it picks by CPU (autoCore): OpenBLAS's AVX-512
// (SkylakeX) kernels on AVX-512 CPUs, where Debian's OpenBLAS 0.3.21 may
// not know the CPU (it falls back to AVX2 kernels on Zen 5, whose AVX-512
// kernels run about 1.5× faster on this project's 2-core Zen 5 machines);
// but its AVX2 (Haswell) kernels on AMD Zen 4, which executes AVX-512 as
// two 256-bit halves: there the AVX-512 kernels, OpenBLAS's own choice
// (Cooperlake), are no faster for resnet9-16 and slower for
// DenseNet-BC-100 (README "Both instruction sets"). A core name OpenBLAS
// does not take is reported by EnvErr.
const CoreEnv = "MCDOOD_BLAS_CORE"

func init() {
	var core *C.char
	switch want := os.Getenv(CoreEnv); want {
	case "", "auto":
		if c := autoCore(); os.Getenv("OPENBLAS_CORETYPE") == "" && c != "" {
			core = C.CString(c)
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

// autoCore is the OpenBLAS core auto gives this CPU: "Haswell" on AMD
// family 0x19 parts with AVX-512 (Zen 4), "SkylakeX" on other CPUs with
// AVX-512 (F, BW, DQ, VL), and "" (OpenBLAS's own choice) elsewhere.
func autoCore() string {
	if !(cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL) {
		return ""
	}
	if amdFamily() == 0x19 {
		return "Haswell"
	}
	return "SkylakeX"
}

// amdFamily is the CPU family of an AMD x86 processor (CPUID leaf 1, with
// the extended family added), or -1 on any other CPU.
func amdFamily() int { return int(C.mcdood_amd_family()) }

func blasName() string { return "openblas (core " + C.GoString(C.openblas_get_corename()) + ")" }
