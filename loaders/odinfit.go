package loaders

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
)

// FitODINResize is ODIN's construction of its "resize" sets (Liang et al.,
// ICLR 2018, Sec. 4.1: "downsample each image to size 32 by 32"), rebuilt
// from what ODIN's own iSUN archive shows (EVIDENCE below):
//
//  1. PIL's Image.resize((32, 32)) with its default filter until Pillow 7,
//     NEAREST: output pixel x takes input pixel floor((x + ½)·in/out)
//     (Pillow's ImagingScaleAffine, which accumulates the position in
//     doubles; for 64 → 32 that is input pixel 2x + 1). Pillow releases of
//     ODIN's time may have started at 0 rather than ½ (pixel 2x): which
//     pixel of each 2×2 block survives does not move the statistic below
//     (mean 86.7 either way, the same quantiles within 1). The whole image
//     becomes 32×32, so a non-square image is squeezed, not cropped (ODIN's
//     words; only square Tiny ImageNet images are derived here).
//  2. A JPEG round trip as PIL's save(…, 'JPEG') with its defaults writes it:
//     baseline, IJG quality 75 (the Annex K tables scaled by libjpeg's
//     formula: IJGTables(75)), 4:2:0 chroma subsampling, three components
//     even for grey images (which stay grey). RGB → YCbCr and the 2×2 chroma
//     averaging are libjpeg's (jccolor.c, jcsample.c); the DCT, quantisation
//     and file are Go's image/jpeg encoder; decoding is the package's usual
//     path (Go's IDCT, libjpeg's upsampling and colour conversion,
//     jpegcolor.go). Against Pillow 9.4 doing the same to the same 32×32
//     pixels, 32% of images come out identical (the same scan bytes) and the
//     decoded values differ by 0.12 levels on average (5% of values differ,
//     by at most 18): Go 1.26's forward DCT is not libjpeg's jfdctint, so a
//     coefficient near a quantisation boundary can round the other way. From
//     Tiny ImageNet's JPEGs the mean difference is 0.64 levels, most of it
//     the ≤ 3-level IDCT difference of decoding the source, which
//     quantisation amplifies. The statistic below does not see either: the
//     mean high-frequency energy is 86.9 both ways.
//
// EVIDENCE. Every one of iSUN's 8,925 files is a baseline 3-component JPEG,
// 4:2:0, with exactly IJGTables(75); TestODINFitMatchesISUN checks them
// against the tables this round trip writes. The downscale was chosen by the
// distribution of per-image high-frequency energy (stats.go) of Tiny
// ImageNet's 10,000 test images made 32×32 each way, against iSUN's 8,925
// (KS: two-sample Kolmogorov–Smirnov distance to iSUN; `go test -run
// TestODINResizeEvidence -v ./loaders/` prints these numbers):
//
//	set                                  mean    p5   p25   p50   p75   p95    KS
//	iSUN (ODIN's archive)                87.9  37.9  64.9  86.2 108.7 143.5     —
//	nearest + JPEG q75 (odin-resize)     86.9  34.9  63.2  85.8 108.6 142.4 0.020
//	point-sampled bilinear + JPEG q75    53.8  22.3  39.0  53.0  67.2  89.0 0.479
//	nearest, no JPEG                     81.7  34.3  59.0  79.7 101.6 136.5 0.083
//	point-sampled bilinear, no JPEG      51.9  23.6  38.8  51.1  63.8  83.3 0.528
//	PIL antialiased bilinear (FIX)       32.5  15.2  24.8  32.1  39.8  51.3 0.825
//	CIFAR-10 test 0–999 (lossless)       31.9  15.8  24.5  31.1  37.7  51.1 0.829
//
// Point-sampled bilinear (no widening of the filter when downscaling, as
// OpenCV's INTER_LINEAR or early PIL's BILINEAR; for 64 → 32 a 2×2 box
// average) is itself a low-pass filter and lands far below iSUN at every
// quantile. Nearest neighbour with the JPEG step matches iSUN's mean within
// 1% and every quantile within 3 (KS 0.020); without the JPEG step it falls
// 6% short and the KS distance quadruples. PIL's own decoding of iSUN and
// PIL doing nearest + save at quality 75 give the same means (87.9, 86.9).
// How strong this is: the evidence is indirect, since iSUN's source images
// (SUN scenes) are not Tiny ImageNet's and ODIN's Imagenet_resize archive is
// not obtainable; matching iSUN's whole distribution shows the construction
// turns comparable photographs into iSUN-like images, not that it reproduces
// ODIN's bytes. The two candidates are so far apart (KS 0.02 against 0.48,
// mean 87 against 54) that the choice does not hang on that caveat; that
// ODIN's resize archives were made alike is an assumption (one code
// path, the same paper section), not something iSUN alone can show.
//
// Crops: see FitODINCrop.
const FitODINResize Fit = "odin-resize"

// odinJPEGQuality is the quality PIL's JPEG save uses by default and the one
// every file of ODIN's iSUN archive carries.
const odinJPEGQuality = 75

// pilResizeNearest is Pillow's Image.resize((ow, oh), Image.NEAREST):
// ImagingScaleAffine with a[0] = in/out, the source position starting at
// a[0]/2 and accumulated in doubles, truncated to an index.
func pilResizeNearest(im rgbImage, ow, oh int) rgbImage {
	xs := pilNearestIndex(im.w, ow)
	ys := pilNearestIndex(im.h, oh)
	out := rgbImage{w: ow, h: oh, pix: make([]byte, 3*ow*oh)}
	for y, sy := range ys {
		for x, sx := range xs {
			copy(out.pix[3*(y*ow+x):3*(y*ow+x)+3], im.pix[3*(sy*im.w+sx):])
		}
	}
	return out
}

// pilNearestIndex lists, for each of out output positions, the input index
// Pillow's nearest-neighbour scaling reads.
func pilNearestIndex(in, out int) []int {
	a := float64(in) / float64(out)
	xo := a * 0.5
	idx := make([]int, out)
	for x := range idx {
		// COORD(v): (int)v for v ≥ 0. Clamped, though the accumulated
		// position stays below in − a/2 for every size that fits in memory.
		idx[x] = min(int(xo), in-1)
		xo += a
	}
	return idx
}

// odinResize is FitODINResize: nearest neighbour to 32×32, then the JPEG
// round trip.
func odinResize(im rgbImage) rgbImage {
	return jpegRoundTrip(pilResizeNearest(im, Side, Side), odinJPEGQuality)
}

// jpegRoundTrip encodes im as PIL's JPEG save would at quality (4:2:0,
// IJG tables) and decodes it again with decodeRGB.
func jpegRoundTrip(im rgbImage, quality int) rgbImage {
	data := encodePILJPEG(im, quality)
	out, err := decodeRGB(data)
	if err != nil {
		// We just encoded it; failing to decode it is a bug here.
		panic(fmt.Sprintf("loaders: decoding our own JPEG: %v", err))
	}
	return out
}

// libjpeg's forward colour conversion (jccolor.c rgb_ycc_start), 16-bit
// fixed point.
var jRY, jGY, jBY, jRCb, jGCb, jBCb, jGCr, jBCr [256]int32

func init() {
	for i := int32(0); i < 256; i++ {
		jRY[i] = jFix(0.29900) * i
		jGY[i] = jFix(0.58700) * i
		jBY[i] = jFix(0.11400)*i + jOneHalf
		jRCb[i] = -jFix(0.16874) * i
		jGCb[i] = -jFix(0.33126) * i
		// B → Cb and R → Cr share this entry; the rounding is ½ − ε.
		jBCb[i] = jFix(0.50000)*i + 128<<jScaleBits + jOneHalf - 1
		jGCr[i] = -jFix(0.41869) * i
		jBCr[i] = -jFix(0.08131) * i
	}
}

// encodePILJPEG encodes im as libjpeg does under PIL's default save at the
// given quality: libjpeg's RGB → YCbCr, 4:2:0 by libjpeg's h2v2_downsample
// (2×2 sums rounded with a bias alternating 1, 2 along each row), then Go's
// baseline encoder with the IJG tables for quality. Go's encoder takes the
// chroma planes as given (its own 2×2 averaging of equal samples is exact).
func encodePILJPEG(im rgbImage, quality int) []byte {
	w, h := im.w, im.h
	m := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	// Full-resolution chroma, edge-replicated to even size as libjpeg's
	// expand_right_edge and the row duplication of jcprepct.c do.
	ew, eh := w+w%2, h+h%2
	cb := make([]int32, ew*eh)
	cr := make([]int32, ew*eh)
	for y := 0; y < eh; y++ {
		sy := min(y, h-1)
		for x := 0; x < ew; x++ {
			sx := min(x, w-1)
			p := im.pix[3*(sy*w+sx):]
			r, g, b := p[0], p[1], p[2]
			if y < h && x < w {
				m.Y[y*m.YStride+x] = byte((jRY[r] + jGY[g] + jBY[b]) >> jScaleBits)
			}
			cb[y*ew+x] = (jRCb[r] + jGCb[g] + jBCb[b]) >> jScaleBits
			cr[y*ew+x] = (jBCb[r] + jGCr[g] + jBCr[b]) >> jScaleBits
		}
	}
	for cy := 0; cy < eh/2; cy++ {
		bias := int32(1)
		for cx := 0; cx < ew/2; cx++ {
			i := 2*cy*ew + 2*cx
			o := cy*m.CStride + cx
			m.Cb[o] = byte((cb[i] + cb[i+1] + cb[i+ew] + cb[i+ew+1] + bias) >> 2)
			m.Cr[o] = byte((cr[i] + cr[i+1] + cr[i+ew] + cr[i+ew+1] + bias) >> 2)
			bias ^= 3
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: quality}); err != nil {
		// Encoding into memory fails only for images over 65,535 pixels a
		// side, which no fit produces.
		panic(fmt.Sprintf("loaders: JPEG encoding of a %d×%d image: %v", w, h, err))
	}
	return buf.Bytes()
}

// FitODINCrop is ODIN's construction of its "crop" sets (Liang et al., ICLR
// 2018, Sec. 4.1: "randomly crop image patches of size 32 by 32"): FitCrop's
// seeded 32×32 window, then the JPEG round trip of FitODINResize (quality 75,
// 4:2:0, IJG tables).
//
// DECISION: the crops went through the JPEG step, so tinyimagenet-crop uses
// this fit and tinyimagenet-crop-fix keeps the plain crops. ODIN's crop
// archives are not obtainable, so the evidence is second-hand and moderate:
//
//   - A public OOD run script that selects each ODIN set's files by
//     extension (--data_format) gives "jpg" for Imagenet/test (TinyImageNet
//     crop), "png" for LSUN/test (LSUN crop) and "jpeg" for iSUN_patches;
//     the iSUN value is right (its files are .jpeg), so the others are
//     likely right too. A .jpg written by PIL is a quality-75, 4:2:0 JPEG
//     unless told otherwise, as iSUN's files are. (The LSUN crops, saved as
//     PNG, were not re-encoded; lsun-crop has no derivation here, so nothing
//     follows for it. Plausibly ODIN kept each source's format: Tiny ImageNet
//     and SUN come as JPEG, LSUN as WebP in an LMDB.)
//   - High-frequency energy cannot decide it without ODIN's crop archive:
//     on Tiny ImageNet's test images the seeded crops measure mean 67.8 (p5
//     20.1, p50 65.0, p95 124.9) without the JPEG step and 71.5 (20.0, 69.1,
//     130.9) with it (TestODINResizeEvidence), a 5% shift, where the crops
//     themselves are not aliased (the 64×64 sources measure 61.1).
//   - It barely matters to scores: with ODIN's DenseNet the same seeded
//     crops score MSP 94.0 and ODIN 97.5 AUROC plain, 94.2 and 97.7
//     re-encoded at quality 75 (DESIGN.md, 2026-12-05).
//
// So the default follows the likelier construction, and the plain crops stay
// one name away for anyone who reads the evidence differently.
const FitODINCrop Fit = "odin-crop"

// odinCrop is FitODINCrop.
func odinCrop(im rgbImage, rng *rand.Rand) rgbImage {
	return jpegRoundTrip(randomCrop32(im, rng), odinJPEGQuality)
}
