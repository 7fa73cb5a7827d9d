//go:build !unix

package benchmarks

import "errors"

// makeFIFO: named pipes in the file system are a Unix thing.
func makeFIFO(string) error { return errors.ErrUnsupported }
