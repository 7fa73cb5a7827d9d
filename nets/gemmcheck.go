package nets

import "fmt"

// checkGemm panics when a matrix slice is too short for its shape: a cgo BLAS
// would read or write out of bounds silently. Programmer error, hence panic.
func checkGemm(transA, transB bool, m, n, k, la, lda, lb, ldb, lc, ldc int) {
	need := func(trans bool, rows, cols, ld int) int {
		if trans {
			rows, cols = cols, rows
		}
		if rows == 0 || cols == 0 {
			return 0
		}
		if ld < cols {
			panic(fmt.Sprintf("nets: sgemm leading dimension %d < %d columns", ld, cols))
		}
		return (rows-1)*ld + cols
	}
	if la < need(transA, m, k, lda) || lb < need(transB, k, n, ldb) || lc < need(false, m, n, ldc) {
		panic(fmt.Sprintf("nets: sgemm slices too short: m=%d n=%d k=%d len(a)=%d lda=%d len(b)=%d ldb=%d len(c)=%d ldc=%d",
			m, n, k, la, lda, lb, ldb, lc, ldc))
	}
}
