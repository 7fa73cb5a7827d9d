// Package geometry is the one image geometry of the project: every data set
// is turned into, and every network reads, 32×32 RGB images (CIFAR's), held
// as three planes of 32×32 (CHW).
package geometry

const (
	Channels = 3
	Side     = 32
	Plane    = Side * Side      // one channel of one image
	Size     = Channels * Plane // values (bytes or floats) of one image
)
