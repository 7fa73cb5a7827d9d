package loaders

import (
	"fmt"
	"math"
)

// Synthetic noise OOD sets, as in ODIN (Liang et al., ICLR 2018, Sec. 4.1)
// and the baseline of Hendrycks & Gimpel (ICLR 2017): "Gaussian: i.i.d.
// Gaussian noise with mean 0.5 and unit variance, each pixel clipped to
// [0, 1]"; "Uniform: i.i.d. uniform noise, each pixel in [0, 1]". Pixels are
// drawn image by image in Dataset's planar order (R plane, G plane, B plane)
// from math/rand/v2's PCG seeded with (seed, 0), and stored as bytes
// round(255·v), so that they pass through the same normalisation as every
// other set (ToTensor's b/255 recovers v to within 1/510).

// DefaultNoiseImages is the size of each noise set: 10,000, as ODIN's.
const DefaultNoiseImages = 10000

// Gaussian returns n images whose pixels are N(0.5, 1) clipped to [0, 1].
func Gaussian(n int, seed uint64) (*Dataset, error) {
	return noise("gaussian", n, seed, func(next func() float64) float64 {
		return min(max(0.5+next(), 0), 1)
	}, true)
}

// Uniform returns n images whose pixels are U[0, 1].
func Uniform(n int, seed uint64) (*Dataset, error) {
	return noise("uniform", n, seed, func(next func() float64) float64 { return next() }, false)
}

func noise(name string, n int, seed uint64, pixel func(func() float64) float64, normal bool) (*Dataset, error) {
	if n <= 0 {
		return nil, fmt.Errorf("%s noise: %d images, want > 0", name, n)
	}
	rng := newRand(seed)
	next := rng.Float64
	if normal {
		next = rng.NormFloat64
	}
	d := &Dataset{Name: name, Pixels: make([]byte, n*ImageBytes)}
	for i := range d.Pixels {
		d.Pixels[i] = byte(math.Round(255 * pixel(next)))
	}
	return d, nil
}
