//go:build !openblas || !cgo

package nets

// The pure-Go build has one kernel level: the Go reference loops.
func kernelLevels() []string { return []string{"go"} }

func useKernelLevel(string) {}

// fmaPeakFLOPs: the pure-Go build has no peak loop (FMAPeak reports 0).
func fmaPeakFLOPs(int) float64 { return 0 }
