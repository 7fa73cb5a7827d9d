package nets

// sgemm computes C = alpha·op(A)·op(B) + beta·C on row-major float32
// matrices, where op(X) is X or its transpose. It runs on the calling
// goroutine only: parallelism is ours, over images, so that more cores mean
// more speed without oversubscribing (OpenBLAS is held to one thread).
//
// The implementation is OpenBLAS through cgo when built with the "openblas"
// tag (blas_openblas.go) and gonum's pure-Go BLAS otherwise (blas_gonum.go).
var sgemm func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// BLAS names the BLAS this binary was built with ("openblas (core SkylakeX)"
// or "gonum (pure Go)"), for benchmarks and records.
func BLAS() string { return blasName() }
