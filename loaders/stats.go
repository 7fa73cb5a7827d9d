package loaders

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"slices"

	"github.com/mcdood/mcdood/internal/progress"
)

// High-frequency energy: the statistic that tells ODIN's 32×32 sets from
// CIFAR-10 and from an antialiased downscale. It is the mean absolute
// response of the 4-neighbour Laplacian
//
//	L(x, y) = g(x−1, y) + g(x+1, y) + g(x, y−1) + g(x, y+1) − 4·g(x, y)
//
// over the interior pixels (the border row and column are left out, so a
// 32×32 image gives 30×30 responses) of the grey image g, PIL's
// convert('L'): g = (19595·R + 38470·G + 7471·B + 2¹⁵) >> 16 (Pillow's
// Convert.c, ITU-R 601-2 luma in 16-bit fixed point). Mean over the data
// mirror's images: iSUN (ODIN's archive) 87.9, CIFAR-10 test images 0–999
// 31.9, Tiny ImageNet's test images downscaled 64 → 32 with PIL's
// antialiasing bilinear filter 32.5, the same images downscaled by nearest
// neighbour and saved at JPEG quality 75 86.9 (odinfit.go has the whole
// distributions; Pillow's own decoding gives the same means). Aliasing (a
// downscale without a low-pass filter) and JPEG blocking both raise it.

// pilGrey is PIL's RGB → L conversion of one pixel.
func pilGrey(r, g, b byte) int32 {
	return (int32(r)*19595 + int32(g)*38470 + int32(b)*7471 + 0x8000) >> 16
}

// HighFrequencyEnergy is the mean absolute 4-neighbour Laplacian of the grey
// version of one Dataset image (ImageBytes bytes, planar R, G, B): see the
// comment above. It panics when img is not ImageBytes long.
func HighFrequencyEnergy(img []byte) float64 {
	if len(img) != ImageBytes {
		panic(fmt.Sprintf("loaders: HighFrequencyEnergy of %d bytes, want %d", len(img), ImageBytes))
	}
	g := make([]int32, PlaneBytes)
	for i := range g {
		g[i] = pilGrey(img[i], img[PlaneBytes+i], img[2*PlaneBytes+i])
	}
	return laplacianEnergy(g, Side, Side)
}

// hfEnergyRGB is HighFrequencyEnergy of an interleaved image of any size;
// NaN when it is smaller than 3×3 (no interior pixel).
func hfEnergyRGB(im rgbImage) float64 {
	g := make([]int32, im.w*im.h)
	for i := range g {
		g[i] = pilGrey(im.pix[3*i], im.pix[3*i+1], im.pix[3*i+2])
	}
	return laplacianEnergy(g, im.w, im.h)
}

func laplacianEnergy(g []int32, w, h int) float64 {
	if w < 3 || h < 3 {
		return math.NaN()
	}
	var sum int64
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			l := g[i-1] + g[i+1] + g[i-w] + g[i+w] - 4*g[i]
			if l < 0 {
				l = -l
			}
			sum += int64(l)
		}
	}
	return float64(sum) / float64((w-2)*(h-2))
}

// HFStats summarises a distribution of per-image values (high-frequency
// energies): count, mean, and quantiles.
type HFStats struct {
	N                                int
	Mean                             float64
	Min, P5, P25, P50, P75, P95, Max float64
}

// SummarizeHF computes HFStats of v (NaN values, from images smaller than
// 3×3, are left out). Quantiles interpolate linearly between order
// statistics (numpy's default): the q-quantile of n sorted values is at
// position q·(n−1).
func SummarizeHF(v []float64) HFStats {
	s := slices.DeleteFunc(slices.Clone(v), math.IsNaN)
	slices.Sort(s)
	st := HFStats{N: len(s)}
	if len(s) == 0 {
		return st
	}
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	st.Mean = sum / float64(len(s))
	st.Min, st.Max = s[0], s[len(s)-1]
	st.P5, st.P25, st.P50, st.P75, st.P95 = Quantile(s, 0.05), Quantile(s, 0.25), Quantile(s, 0.5), Quantile(s, 0.75), Quantile(s, 0.95)
	return st
}

// Quantile is the q-quantile (0 ≤ q ≤ 1) of sorted, interpolating linearly
// between order statistics; NaN for an empty slice.
func Quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	pos := q * float64(n-1)
	i := int(math.Floor(pos))
	if i >= n-1 {
		return sorted[n-1]
	}
	f := pos - float64(i)
	return sorted[i] + f*(sorted[i+1]-sorted[i])
}

// ImageInfo is what InspectImages found for one image file.
type ImageInfo struct {
	Source        string // file path, or archive:member
	Width, Height int    // as decoded
	// HFEnergy is the high-frequency energy of the image at its own size (no
	// fit applied); NaN below 3×3.
	HFEnergy float64
	// HFEnergy32 is the high-frequency energy after InspectOptions.Fit, when
	// one is given (NaN otherwise).
	HFEnergy32 float64
	// JPEG is the file's JPEG header, nil for other formats.
	JPEG *JPEGInfo
}

// InspectOptions configures InspectImages.
type InspectOptions struct {
	// Fit, when set, also makes each image 32×32 as a data set of that fit
	// would (FitCrop seeded by Seed) and measures it (ImageInfo.HFEnergy32).
	Fit      Fit
	Seed     uint64
	Progress *progress.Reporter
}

// InspectImages reads every image of a folder, an archive (.tar, .tar.gz,
// .zip; in the order ReadImages uses) or a single image file at p, and
// reports its size, its high-frequency energy and, for JPEG files, its
// encoding. An image that does not decode is an error naming it.
func InspectImages(p string, opts InspectOptions) ([]ImageInfo, error) {
	if opts.Fit != "" {
		if _, err := ParseFit(string(opts.Fit)); err != nil {
			return nil, err
		}
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	var set *imageSet
	if st.Mode().IsRegular() && isImageName(p) {
		set = &imageSet{entries: []imageEntry{{label: p, file: p}}}
	} else if set, err = listImages(p); err != nil {
		return nil, err
	}
	defer set.Close()
	var fit *fitter
	if opts.Fit != "" {
		fits, err := set.fitters([]fitSpec{{fit: opts.Fit, seed: opts.Seed}})
		if err != nil {
			return nil, err
		}
		fit = fits[0]
	}
	out := make([]ImageInfo, len(set.entries))
	bar := opts.Progress.Start("inspecting "+p, int64(len(set.entries)), "img")
	dst := make([]byte, ImageBytes)
	err = set.each(func(i int, e *imageEntry, r io.Reader) error {
		// Keep what the decoder reads: a JPEG's headers come first.
		var seen bytes.Buffer
		im, err := decodeRGBReader(io.TeeReader(r, &seen), maxDecodePixels)
		if err != nil {
			return fmt.Errorf("%s: decode: %w", e.label, err)
		}
		data := seen.Bytes()
		info := ImageInfo{Source: e.label, Width: im.w, Height: im.h, HFEnergy: hfEnergyRGB(im), HFEnergy32: math.NaN()}
		if len(data) >= 2 && data[0] == 0xFF && data[1] == 0xD8 {
			j, err := ReadJPEGInfo(data)
			if err != nil {
				return fmt.Errorf("%s: %w", e.label, err)
			}
			info.JPEG = &j
		}
		if fit != nil {
			fit.fitTo32(i, im, dst)
			info.HFEnergy32 = HighFrequencyEnergy(dst)
		}
		out[i] = info
		bar.Add(1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	bar.Finish()
	return out, nil
}
