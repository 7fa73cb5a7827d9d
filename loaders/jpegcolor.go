package loaders

import "image"

// PIL decodes JPEG with libjpeg(-turbo), whose defaults differ from Go's
// image/jpeg after the IDCT in two ways this file reproduces:
//
//   - chroma upsampling: libjpeg's "fancy" upsampling (jdsample.c
//     h2v2_fancy_upsample, h2v1_fancy_upsample and libjpeg-turbo's
//     h1v2_fancy_upsample) interpolates subsampled Cb/Cr with a triangle
//     filter (weights 3/4, 1/4 per axis, with libjpeg's rounding biases),
//     where image.YCbCr repeats each chroma sample;
//   - colour conversion: jdcolor.c's tables (16-bit fixed point, FIX(1.40200)
//     and so on, rounded with ONE_HALF), where color.YCbCrToRGB uses a
//     slightly different fixed-point formula.
//
// The IDCTs still differ (Go's is not libjpeg's jidctint), so pixels can
// differ from PIL's by about one grey level; the large errors at colour
// edges that nearest-neighbour chroma gives are gone.

const (
	jScaleBits = 16
	jOneHalf   = 1 << (jScaleBits - 1)
)

func jFix(x float64) int32 { return int32(x*(1<<jScaleBits) + 0.5) }

var jCrR, jCbB, jCrG, jCbG [256]int32

func init() {
	for i := 0; i < 256; i++ {
		x := int32(i - 128)
		jCrR[i] = (jFix(1.40200)*x + jOneHalf) >> jScaleBits
		jCbB[i] = (jFix(1.77200)*x + jOneHalf) >> jScaleBits
		jCrG[i] = -jFix(0.71414) * x
		jCbG[i] = -jFix(0.34414)*x + jOneHalf
	}
}

func clampByte(v int32) byte {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return byte(v)
}

// libjpegRGB is jdcolor.c's ycc_rgb_convert for one pixel.
func libjpegRGB(y, cb, cr byte) (byte, byte, byte) {
	yy := int32(y)
	return clampByte(yy + jCrR[cr]),
		clampByte(yy + (jCbG[cb]+jCrG[cr])>>jScaleBits),
		clampByte(yy + jCbB[cb])
}

// ycbcrToRGBLibjpeg converts a decoded JPEG the way libjpeg does with its
// default settings. Subsampling ratios libjpeg has no fancy upsampler for
// (4:1:1, 4:1:0) keep image.YCbCr's replication.
func ycbcrToRGBLibjpeg(m *image.YCbCr, out rgbImage) {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	var hs, vs int // chroma subsampling factors
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio422:
		hs, vs = 2, 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 2, 2
	case image.YCbCrSubsampleRatio440:
		hs, vs = 1, 2
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi := m.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := m.COffset(b.Min.X+x, b.Min.Y+y)
				o := 3 * (y*w + x)
				out.pix[o], out.pix[o+1], out.pix[o+2] = libjpegRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			}
		}
		return
	}
	// The real (not block-padded) chroma size: libjpeg's downsampled_width
	// and downsampled_height.
	cw, ch := (w+hs-1)/hs, (h+vs-1)/vs
	c0 := m.COffset(b.Min.X, b.Min.Y)
	cb := upsampleFancy(m.Cb[c0:], m.CStride, cw, ch, hs, vs, w, h)
	cr := upsampleFancy(m.Cr[c0:], m.CStride, cw, ch, hs, vs, w, h)
	for y := 0; y < h; y++ {
		yrow := m.Y[m.YOffset(b.Min.X, b.Min.Y+y):]
		for x := 0; x < w; x++ {
			k := y*w + x
			o := 3 * k
			out.pix[o], out.pix[o+1], out.pix[o+2] = libjpegRGB(yrow[x], cb[k], cr[k])
		}
	}
}

// upsampleFancy returns a w×h plane from a cw×ch chroma plane subsampled by
// hs×vs (1 or 2 each). Rows above the first and below the last repeat the
// edge row, as libjpeg's context rows do (jdmainct.c).
func upsampleFancy(src []byte, stride, cw, ch, hs, vs, w, h int) []byte {
	at := func(x, y int) int32 {
		x = min(max(x, 0), cw-1)
		y = min(max(y, 0), ch-1)
		return int32(src[y*stride+x])
	}
	out := make([]byte, w*h)
	if hs == 1 && vs == 1 {
		for y := 0; y < h; y++ {
			copy(out[y*w:(y+1)*w], src[y*stride:y*stride+w])
		}
		return out
	}
	row := make([]int32, 2*cw) // one upsampled output row, before cropping to w
	for oy := 0; oy < h; oy++ {
		iy := oy / vs
		// Vertical step: the nearest input row and the next nearest one
		// (above for the upper of two output rows, below for the lower).
		var colsum func(x int) int32
		var vbias int32
		switch {
		case vs == 1:
			colsum = func(x int) int32 { return at(x, iy) }
		case oy%2 == 0:
			colsum = func(x int) int32 { return 3*at(x, iy) + at(x, iy-1) }
			vbias = 1
		default:
			colsum = func(x int) int32 { return 3*at(x, iy) + at(x, iy+1) }
			vbias = 2
		}
		switch {
		case hs == 1: // h1v2_fancy_upsample
			for x := 0; x < cw; x++ {
				row[x] = (colsum(x) + vbias) >> 2
			}
		case vs == 1: // h2v1_fancy_upsample
			for x := 0; x < cw; x++ {
				this := 3 * at(x, iy)
				switch {
				case cw == 1:
					row[0], row[1] = at(0, iy), at(0, iy)
				case x == 0:
					row[0] = at(0, iy)
					row[1] = (this + at(1, iy) + 2) >> 2
				case x == cw-1:
					row[2*x] = (this + at(x-1, iy) + 1) >> 2
					row[2*x+1] = at(x, iy)
				default:
					row[2*x] = (this + at(x-1, iy) + 1) >> 2
					row[2*x+1] = (this + at(x+1, iy) + 2) >> 2
				}
			}
		default: // h2v2_fancy_upsample
			for x := 0; x < cw; x++ {
				this := colsum(x)
				last, next := colsum(max(x-1, 0)), colsum(min(x+1, cw-1))
				if x == 0 {
					row[0] = (this*4 + 8) >> 4
				} else {
					row[0+2*x] = (this*3 + last + 8) >> 4
				}
				if x == cw-1 {
					row[2*x+1] = (this*4 + 7) >> 4
				} else {
					row[2*x+1] = (this*3 + next + 7) >> 4
				}
			}
		}
		o := out[oy*w : (oy+1)*w]
		for x := range o {
			o[x] = byte(row[x])
		}
	}
	return out
}
