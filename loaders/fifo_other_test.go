//go:build !unix

package loaders

import "errors"

// makeFIFO: named pipes in the file system are a Unix thing.
func makeFIFO(string) error { return errors.ErrUnsupported }
