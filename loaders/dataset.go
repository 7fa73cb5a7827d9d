package loaders

import (
	"fmt"
	"math/rand/v2"

	"github.com/mcdood/mcdood/internal/geometry"
)

// Image geometry shared by every data set: 32×32 RGB, as CIFAR (the
// project's one geometry, internal/geometry). ImageBytes is the project's
// name for the bytes of one image; Side and Channels are the package's own
// (networks' code says nets.ImageSide and nets.ImageChannels).
const (
	Side       = geometry.Side
	Channels   = geometry.Channels
	PlaneBytes = geometry.Plane
	ImageBytes = geometry.Size // 3,072
)

// Dataset is a set of 32×32 RGB images held as bytes in CIFAR's planar layout
// (the red, green and blue 32×32 planes, each row-major), with one label per
// image for labelled sets. Everything downstream (splits, batches, networks)
// reads this one type, whatever file format the images came from.
type Dataset struct {
	Name    string
	Pixels  []byte   // Len()*ImageBytes bytes
	Labels  []int    // one per image in [0, Classes); nil for unlabelled sets
	Classes int      // 0 for unlabelled sets
	Sources []string // optional: where each image came from (file or archive member), for messages
	// Warnings says what reading the set skipped (image links that lead
	// nowhere, links to folders), for the data pass to print; nil when
	// nothing was. Head and Subset do not carry it.
	Warnings []string
}

// Len is the number of images.
func (d *Dataset) Len() int { return len(d.Pixels) / ImageBytes }

// Image returns the bytes of image i (not a copy).
func (d *Dataset) Image(i int) []byte { return d.Pixels[i*ImageBytes : (i+1)*ImageBytes] }

// Labelled reports whether the set carries class labels.
func (d *Dataset) Labelled() bool { return d.Labels != nil }

// Head returns the first n images (the plans' train_images, test_images and
// ood_images caps), or d itself when n ≤ 0 or d has no more than n.
func (d *Dataset) Head(n int) *Dataset {
	if n <= 0 || d.Len() <= n {
		return d
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return d.Subset(d.Name, idx)
}

// Subset returns the images at idx, in that order, as a new Dataset (a copy).
func (d *Dataset) Subset(name string, idx []int) *Dataset {
	s := &Dataset{Name: name, Pixels: make([]byte, len(idx)*ImageBytes), Classes: d.Classes}
	if d.Labels != nil {
		s.Labels = make([]int, len(idx))
	}
	if d.Sources != nil {
		s.Sources = make([]string, len(idx))
	}
	for j, i := range idx {
		copy(s.Pixels[j*ImageBytes:], d.Image(i))
		if d.Labels != nil {
			s.Labels[j] = d.Labels[i]
		}
		if d.Sources != nil {
			s.Sources[j] = d.Sources[i]
		}
	}
	return s
}

// Validate checks sizes and label ranges.
func (d *Dataset) Validate() error {
	if len(d.Pixels)%ImageBytes != 0 {
		return fmt.Errorf("data set %s: %d pixel bytes is not a whole number of %d-byte images", d.Name, len(d.Pixels), ImageBytes)
	}
	if d.Labels != nil {
		if len(d.Labels) != d.Len() {
			return fmt.Errorf("data set %s: %d labels for %d images", d.Name, len(d.Labels), d.Len())
		}
		for i, l := range d.Labels {
			if l < 0 || l >= d.Classes {
				return fmt.Errorf("data set %s: image %d has label %d, want 0..%d", d.Name, i, l, d.Classes-1)
			}
		}
	}
	return nil
}

// Normalization maps a byte b of channel c to (b/255 − Mean[c]) / Std[c].
type Normalization struct {
	Mean, Std [Channels]float32
}

// CIFARNormalization is the per-channel mean and standard deviation that ODIN
// (Liang et al., ICLR 2018) and the MCD authors' loaders use for CIFAR-10 and
// CIFAR-100 and for every OOD set: mean (125.3, 123.0, 113.9)/255,
// std (63.0, 62.1, 66.7)/255.
var CIFARNormalization = Normalization{
	Mean: [Channels]float32{125.3 / 255, 123.0 / 255, 113.9 / 255},
	Std:  [Channels]float32{63.0 / 255, 62.1 / 255, 66.7 / 255},
}

// Augmentation is a training augmentation: the standard CIFAR one, a random
// crop of the image zero-padded by Pad pixels on each side and a horizontal
// flip with probability 1/2 when Flip is set; or airbench's (Jordan, 2024):
// a random shift by up to Reflect pixels with the border filled by
// reflection, and alternating flips.
type Augmentation struct {
	Pad     int
	Flip    bool
	Reflect int
	// AltFlip flips each image in every other epoch, starting flipped or
	// not at random (airbench's alternating flip, which covers both
	// orientations more evenly than independent flips). Batches.Fill
	// applies it, as it needs the epoch; Dataset.Fill ignores it.
	AltFlip bool
}

// StandardAugmentation pads by 4 and flips, as in the DenseNet and WRN recipes.
var StandardAugmentation = Augmentation{Pad: 4, Flip: true}

// AirbenchAugmentation shifts by up to 2 pixels with reflection and flips
// in alternate epochs (airbench94.py: translate 2, flip).
var AirbenchAugmentation = Augmentation{Reflect: 2, AltFlip: true}

// Fill writes the images at idx into dst as normalised float32 in NCHW order
// (len(dst) ≥ len(idx)*ImageBytes) and their labels into labels when both it
// and d.Labels are non-nil. aug may be nil for no augmentation; rng is used
// only by aug. Padding pixels are black (byte 0) before normalisation, as
// torchvision's RandomCrop(32, padding=4) pads the PIL image before ToTensor;
// reflected ones mirror the image without repeating its edge (torch's
// 'reflect' padding).
func (d *Dataset) Fill(dst []float32, labels []int, idx []int, norm Normalization, aug *Augmentation, rng *rand.Rand) {
	var scale, shift [Channels]float32
	for c := 0; c < Channels; c++ {
		scale[c] = 1 / (255 * norm.Std[c])
		shift[c] = -norm.Mean[c] / norm.Std[c]
	}
	for j, i := range idx {
		src := d.Image(i)
		out := dst[j*ImageBytes : (j+1)*ImageBytes]
		if labels != nil && d.Labels != nil {
			labels[j] = d.Labels[i]
		}
		dx, dy, flip, reflect := 0, 0, false, false
		if aug != nil {
			if aug.Pad > 0 {
				dx = rng.IntN(2*aug.Pad+1) - aug.Pad
				dy = rng.IntN(2*aug.Pad+1) - aug.Pad
			} else if aug.Reflect > 0 {
				dx = rng.IntN(2*aug.Reflect+1) - aug.Reflect
				dy = rng.IntN(2*aug.Reflect+1) - aug.Reflect
				reflect = true
			}
			flip = aug.Flip && rng.IntN(2) == 1
		}
		for c := 0; c < Channels; c++ {
			plane := src[c*PlaneBytes : (c+1)*PlaneBytes]
			o := out[c*PlaneBytes : (c+1)*PlaneBytes]
			sc, sh := scale[c], shift[c]
			if dx == 0 && dy == 0 && !flip {
				for k, b := range plane {
					o[k] = float32(b)*sc + sh
				}
				continue
			}
			for y := 0; y < Side; y++ {
				sy := y + dy
				if reflect {
					sy = reflectIndex(sy)
				}
				row := o[y*Side : (y+1)*Side]
				if sy < 0 || sy >= Side {
					for x := range row {
						row[x] = sh // a zero (black) padding byte
					}
					continue
				}
				for x := 0; x < Side; x++ {
					ox := x
					if flip {
						ox = Side - 1 - x
					}
					sx := x + dx
					if reflect {
						sx = reflectIndex(sx)
					}
					if sx < 0 || sx >= Side {
						row[ox] = sh
					} else {
						row[ox] = float32(plane[sy*Side+sx])*sc + sh
					}
				}
			}
		}
	}
}

// reflectIndex maps a row or column just outside the image back inside it
// by reflection about the edge pixel (−1 → 1, Side → Side − 2).
func reflectIndex(i int) int {
	switch {
	case i < 0:
		return -i
	case i >= Side:
		return 2*(Side-1) - i
	}
	return i
}

// Batches is a data set with its normalisation and augmentation bound: what
// the training and prediction of package nets read (nets.Source). Seed
// draws each image's first orientation for Aug.AltFlip.
type Batches struct {
	Set  *Dataset
	Norm Normalization
	Aug  *Augmentation // nil: none
	Seed uint64
}

// Len is the number of images.
func (b Batches) Len() int { return b.Set.Len() }

// Classes is the number of classes (0 for an unlabelled set).
func (b Batches) Classes() int { return b.Set.Classes }

// Labels are the set's labels (nil for an unlabelled set).
func (b Batches) Labels() []int { return b.Set.Labels }

// Name is the set's name.
func (b Batches) Name() string { return b.Set.Name }

// Fill is Dataset.Fill with the bound normalisation, and the bound
// augmentation when rng is not nil, alternating flips included: image i is
// flipped in epoch e when e is odd, or the other way round for the half
// of the images that start flipped (a hash of Seed and i decides).
func (b Batches) Fill(dst []float32, labels []int, idx []int, rng *rand.Rand, epoch int) {
	aug := b.Aug
	if rng == nil {
		aug = nil
	}
	b.Set.Fill(dst, labels, idx, b.Norm, aug, rng)
	if aug == nil || !aug.AltFlip {
		return
	}
	for j, i := range idx {
		if (startsFlipped(b.Seed, i) != 0) == (epoch%2 == 0) {
			flipRows(dst[j*ImageBytes : (j+1)*ImageBytes])
		}
	}
}

// startsFlipped is 0 or 1 for image i: a bit of SplitMix64 of seed and i.
func startsFlipped(seed uint64, i int) uint64 {
	z := seed ^ (uint64(i)+1)*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return (z ^ z>>31) & 1
}

// flipRows mirrors every 32-pixel row of an image in place.
func flipRows(img []float32) {
	for r := 0; r < len(img); r += Side {
		row := img[r : r+Side]
		for a, b := 0, Side-1; a < b; a, b = a+1, b-1 {
			row[a], row[b] = row[b], row[a]
		}
	}
}
