//go:build !openblas || !cgo

package nets

// The pure-Go build has one kernel level: the Go reference loops.
func kernelLevels() []string { return []string{"go"} }

func useKernelLevel(string) {}
