// Package geometry is the one image geometry of the project: every data set
// is turned into, and every network reads, 32×32 RGB images (CIFAR's), held
// as three planes of 32×32 (CHW).
//
// Only loaders and nets import it; the rest of the project uses one exported
// name per unit: loaders.ImageBytes for the bytes of a stored image
// (loaders.PlaneBytes for one of its planes), nets.ImageSize for the
// float32 values a network reads (nets.ImageSide, nets.ImageChannels for
// its shape).
package geometry

const (
	Channels = 3
	Side     = 32
	Plane    = Side * Side      // one channel of one image
	Size     = Channels * Plane // values of one image: bytes in loaders, floats in nets
)
