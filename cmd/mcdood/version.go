package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"strings"

	"github.com/mcdood/mcdood/internal/buildinfo"
	"github.com/mcdood/mcdood/nets"
)

func init() {
	register(&command{
		name:    "version",
		order:   90,
		summary: "print the build: source version, Go, BLAS and the kernel levels this CPU runs",
		usage:   "",
		help: `The kernel level in use is the fastest this CPU runs unless
MCDOOD_KERNELS names another (avx512, avx2, generic; go in the pure-Go
build); OpenBLAS's kernels follow MCDOOD_BLAS_CORE or OPENBLAS_CORETYPE;
convolutions run on oneDNN in the dnnl build unless MCDOOD_CONV=gemm.
Records store the same facts, so numbers from two machines can be told apart.`,
		flags: func(fs *flag.FlagSet) runFunc { return noArgs(runVersion) },
	})
}

func runVersion(ctx context.Context, e *env) error {
	en := nets.CurrentEngine()
	fmt.Fprintf(e.stdout, "mcdood %s, %s %s/%s\nBLAS %s\nkernels %s (this CPU and build run %s)\nconvolutions %s\n", buildinfo.Revision(), runtime.Version(),
		runtime.GOOS, runtime.GOARCH, en.BLAS, en.Kernels, strings.Join(nets.KernelLevels(), ", "), en.Conv)
	return nil
}
