package loaders

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // registered for image.Decode
	_ "image/jpeg"
	_ "image/png"
	"io"
	"math"
	"math/rand/v2"
	"path"
	"slices"
	"strconv"
	"strings"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
)

// Every OOD image becomes 32×32 RGB the way the MCD authors' loader does it
// (YU1ut/UOOD-MCD utils/loader.py): PIL's Image.open(f).convert('RGB') and
// torchvision's transforms.Resize(32), which scales the shorter side to 32
// with PIL's bilinear filter. The resampling below is a port of Pillow's
// libImaging/Resample.c (the support of the triangle filter grows with the
// downscaling factor, so it antialiases; coefficients in 22-bit fixed point;
// a horizontal pass then a vertical pass, each rounded and clipped to 8 bits)
// and matches Pillow 9.4 byte for byte on lossless inputs (see
// TestResizeMatchesPillow). golang.org/x/image/draw's kernels are close but
// not identical, hence the port.
//
// JPEG decoding uses Go's image/jpeg for the entropy decoding and IDCT, then
// libjpeg's fancy chroma upsampling and colour conversion (jpegcolor.go).
// Only the IDCTs differ from PIL's libjpeg-turbo: on Tiny ImageNet's test
// images about 3% of the decoded values differ, by at most 3 levels (mean
// absolute difference 0.035). This is the one place where our pixels are not
// exactly the authors' pixels.

// rgbImage is an 8-bit RGB image, pixels interleaved (R, G, B) row-major.
type rgbImage struct {
	w, h int
	pix  []byte
}

// maxDecodePixels bounds the size an image header may claim before decoding
// (64 megapixels), so a corrupt or hostile file cannot exhaust memory.
const maxDecodePixels = 1 << 26

// imageExtensions are the MCD authors' IMG_EXTENSIONS (utils/loader.py);
// other files in an image folder or archive are skipped. .tiff is added.
var imageExtensions = []string{".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff"}

// isImageName reports whether name has one of imageExtensions (any case).
func isImageName(name string) bool {
	n := strings.ToLower(name)
	for _, ext := range imageExtensions {
		if strings.HasSuffix(n, ext) {
			return true
		}
	}
	return false
}

// decodeRGB decodes a JPEG, PNG, GIF, BMP or TIFF image (told by its first
// bytes) into 8-bit RGB as PIL's convert('RGB') would: grey is replicated
// into the three channels, alpha is dropped without compositing, 16-bit
// samples keep their high byte.
func decodeRGB(data []byte) (rgbImage, error) { return decodeRGBLimit(data, maxDecodePixels) }

// decodeRGBLimit is decodeRGB refusing images of more than maxPixels pixels
// before allocating them.
func decodeRGBLimit(data []byte, maxPixels int64) (rgbImage, error) {
	return decodeRGBReader(bytes.NewReader(data), maxPixels)
}

// decodeRGBReader is decodeRGBLimit reading the image from r as a stream:
// the header is read (and kept) to check the size it claims, then the
// decoder reads the rest as it needs it, so memory is the decoded image,
// never the file, and a file that is not an image is refused after its
// first bytes. Data after the image's end is not read.
func decodeRGBReader(r io.Reader, maxPixels int64) (rgbImage, error) {
	head, format, err := decodeHeader(r, maxPixels)
	if err != nil {
		return rgbImage{}, err
	}
	img, _, err := image.Decode(io.MultiReader(head, r))
	if err != nil {
		return rgbImage{}, fmt.Errorf("%s: %w", format, err)
	}
	// A GIF's first frame may be smaller than its header's screen, even
	// empty: check what was decoded too.
	if b := img.Bounds(); b.Dx() <= 0 || b.Dy() <= 0 || int64(b.Dx())*int64(b.Dy()) > maxPixels {
		return rgbImage{}, fmt.Errorf("%s image decodes to %d×%d pixels, want 1..%d pixels", format, b.Dx(), b.Dy(), maxPixels)
	}
	return toRGB(img), nil
}

// decodeHeader reads an image's header from r and checks the size it
// claims against maxPixels. It returns the bytes it read (the decoder must
// read them again) and the format's name.
func decodeHeader(r io.Reader, maxPixels int64) (*bytes.Buffer, string, error) {
	var head bytes.Buffer
	cfg, format, err := image.DecodeConfig(io.TeeReader(r, &head))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			if ext := sniffUnsupported(head.Bytes()); ext != "" {
				return nil, "", fmt.Errorf("%s images are not supported (convert them to PNG)", ext)
			}
			return nil, "", fmt.Errorf("not a JPEG, PNG, GIF, BMP or TIFF image: %w", err)
		}
		return nil, "", err
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return nil, "", fmt.Errorf("%s header gives %d×%d pixels, want 1..%d pixels", format, cfg.Width, cfg.Height, maxPixels)
	}
	return &head, format, nil
}

// sniffUnsupported names formats among the authors' extensions that the Go
// decoders do not read (Netpbm).
func sniffUnsupported(data []byte) string {
	if len(data) >= 2 && data[0] == 'P' && data[1] >= '1' && data[1] <= '7' {
		return "PPM/PGM (Netpbm)"
	}
	return ""
}

func toRGB(img image.Image) rgbImage {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := rgbImage{w: w, h: h, pix: make([]byte, 3*w*h)}
	p := out.pix
	switch m := img.(type) {
	case *image.YCbCr: // JPEG: upsample and convert as libjpeg (jpegcolor.go)
		ycbcrToRGBLibjpeg(m, out)
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, v := range row {
				o := 3 * (y*w + x)
				p[o], p[o+1], p[o+2] = v, v, v
			}
		}
	case *image.RGBA: // the PNG decoder's opaque truecolour
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				o := 3 * (y*w + x)
				p[o], p[o+1], p[o+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	case *image.NRGBA: // truecolour with alpha: PIL drops alpha
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				o := 3 * (y*w + x)
				p[o], p[o+1], p[o+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	case *image.Paletted:
		pal := make([][3]byte, len(m.Palette))
		for i, c := range m.Palette {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			if rgba, ok := c.(color.RGBA); ok {
				n = color.NRGBA{rgba.R, rgba.G, rgba.B, 255} // PIL keeps palette RGB
			}
			pal[i] = [3]byte{n.R, n.G, n.B}
		}
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, ci := range row {
				var c [3]byte
				if int(ci) < len(pal) {
					c = pal[ci]
				}
				o := 3 * (y*w + x)
				p[o], p[o+1], p[o+2] = c[0], c[1], c[2]
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				var r, g, bl uint8
				switch c := img.At(b.Min.X+x, b.Min.Y+y).(type) {
				case color.Gray16:
					r = uint8(c.Y >> 8)
					g, bl = r, r
				case color.RGBA64:
					r, g, bl = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8)
				case color.NRGBA64:
					r, g, bl = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8)
				default:
					n := color.NRGBAModel.Convert(c).(color.NRGBA)
					r, g, bl = n.R, n.G, n.B
				}
				o := 3 * (y*w + x)
				p[o], p[o+1], p[o+2] = r, g, bl
			}
		}
	}
	return out
}

// Fit says how an image of any size becomes 32×32.
type Fit string

const (
	// FitResize scales the shorter side to 32 with PIL's bilinear filter
	// (torchvision Resize(32), as the MCD authors' loader does for every OOD
	// image) and takes the centre 32×32 (torchvision CenterCrop(32); a no-op
	// for square images, the only kind in ODIN's sets). Pillow's bilinear
	// filter antialiases, so this is the clean downscale of the FIX sets;
	// ODIN's "resize" sets ("downsample each image to size 32 by 32", Liang
	// et al., 2018) were made without a low-pass filter and saved as JPEG:
	// FitODINResize (odinfit.go).
	FitResize Fit = "resize"
	// FitCrop takes a seeded uniformly random 32×32 window (torchvision
	// RandomCrop(32) without padding), after scaling the shorter side up to
	// 32 if it is smaller: ODIN's "crop" sets' windows ("randomly crop image
	// patches of size 32 by 32", Liang et al., 2018), without the JPEG step
	// FitODINCrop adds.
	FitCrop Fit = "crop"
)

// Fits lists the fits ParseFit accepts.
func Fits() []Fit { return []Fit{FitResize, FitCrop, FitODINResize, FitODINCrop} }

// ParseFit accepts "resize", "crop", "odin-resize" and "odin-crop".
func ParseFit(s string) (Fit, error) {
	if slices.Contains(Fits(), Fit(s)) {
		return Fit(s), nil
	}
	names := make([]string, 0, len(Fits()))
	for _, f := range Fits() {
		names = append(names, strconv.Quote(string(f)))
	}
	return "", fmt.Errorf("unknown fit %q, want one of %s", s, strings.Join(names, ", "))
}

// fitTo32 makes im 32×32 and writes it in Dataset's planar layout into dst
// (ImageBytes long). rng is used by FitCrop and FitODINCrop only.
func fitTo32(im rgbImage, fit Fit, rng *rand.Rand, dst []byte) {
	var win window
	if fit.seeded() {
		win = cropWindow(im.w, im.h, rng)
	}
	fitTo32At(im, fit, win, dst)
}

// fitTo32At is fitTo32 with the crop window of FitCrop and FitODINCrop
// given (drawn by cropWindow beforehand); other fits ignore win.
func fitTo32At(im rgbImage, fit Fit, win window, dst []byte) {
	switch fit {
	case FitODINResize:
		toPlanar(odinResize(im), 0, 0, dst)
	case FitODINCrop:
		toPlanar(jpegRoundTrip(cropAt(im, win), odinJPEGQuality), 0, 0, dst)
	case FitCrop:
		toPlanar(cropAt(im, win), 0, 0, dst)
	default:
		im = resizeShorter(im, Side)
		// torchvision CenterCrop: int(round((h - 32) / 2.)) with Python 3's
		// round-half-to-even.
		top := int(math.RoundToEven(float64(im.h-Side) / 2))
		left := int(math.RoundToEven(float64(im.w-Side) / 2))
		toPlanar(im, top, left, dst)
	}
}

// window is the top-left corner of a 32×32 crop.
type window struct{ top, left int }

// cropWindow draws FitCrop's window for a w×h image: uniformly random in
// the image after its shorter side is scaled up to 32 if it is smaller, the
// row drawn first. It depends on the size only, so the windows of images
// read out of order can be drawn in order beforehand.
func cropWindow(w, h int, rng *rand.Rand) window {
	if w < Side || h < Side {
		w, h = shorterSize(w, h, Side)
	}
	top := rng.IntN(h - Side + 1)
	left := rng.IntN(w - Side + 1)
	return window{top, left}
}

// cropAt is FitCrop's 32×32 crop at win, after scaling the shorter side up
// to 32 if it is smaller.
func cropAt(im rgbImage, win window) rgbImage {
	if im.w < Side || im.h < Side {
		im = resizeShorter(im, Side)
	}
	out := rgbImage{w: Side, h: Side, pix: make([]byte, 3*Side*Side)}
	for y := 0; y < Side; y++ {
		copy(out.pix[3*y*Side:3*(y+1)*Side], im.pix[3*((win.top+y)*im.w+win.left):])
	}
	return out
}

// randomCrop32 is FitCrop's window: a seeded uniformly random 32×32 crop,
// after scaling the shorter side up to 32 if it is smaller.
func randomCrop32(im rgbImage, rng *rand.Rand) rgbImage {
	return cropAt(im, cropWindow(im.w, im.h, rng))
}

// seeded reports whether a fit draws from a random generator.
func (f Fit) seeded() bool { return f == FitCrop || f == FitODINCrop }

// toPlanar copies the 32×32 window at (top, left) into planar R, G, B.
func toPlanar(im rgbImage, top, left int, dst []byte) {
	for y := 0; y < Side; y++ {
		row := im.pix[3*((top+y)*im.w+left):]
		for x := 0; x < Side; x++ {
			o := y*Side + x
			dst[o] = row[3*x]
			dst[PlaneBytes+o] = row[3*x+1]
			dst[2*PlaneBytes+o] = row[3*x+2]
		}
	}
}

// resizeShorter is torchvision 0.3's transforms.Resize(size) for an int size
// (the version the MCD authors used): an image whose shorter side already
// equals size is returned unchanged; otherwise the shorter side becomes size
// and the other int(size * long / short) (truncated), resampled bilinearly as
// PIL does.
func resizeShorter(im rgbImage, size int) rgbImage {
	w, h := shorterSize(im.w, im.h, size)
	if w == im.w && h == im.h {
		return im
	}
	return pilResizeBilinear(im, w, h)
}

// shorterSize is the size resizeShorter gives a w×h image.
func shorterSize(w, h, size int) (int, int) {
	switch {
	case (w <= h && w == size) || (h <= w && h == size):
		return w, h
	case w < h:
		return size, int(float64(size) * float64(h) / float64(w))
	}
	return int(float64(size) * float64(w) / float64(h)), size
}

// pilPrecisionBits is Resample.c's PRECISION_BITS (32 − 8 − 2).
const pilPrecisionBits = 32 - 8 - 2

// pilCoeffs is Resample.c's precompute_coeffs for the bilinear (triangle)
// filter of support 1, followed by normalize_coeffs_8bpc: for each output
// position the first input index, the number of inputs, and their
// fixed-point weights (ksize per output).
func pilCoeffs(inSize, outSize int) (bounds []int, kk []int32, ksize int) {
	scale := float64(inSize) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := 1.0 * filterscale
	ksize = int(math.Ceil(support))*2 + 1
	bounds = make([]int, 2*outSize)
	kk = make([]int32, outSize*ksize)
	pre := make([]float64, ksize)
	for xx := 0; xx < outSize; xx++ {
		center := (float64(xx) + 0.5) * scale
		ss := 1.0 / filterscale
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			w := bilinearFilter((float64(x+xmin) - center + 0.5) * ss)
			pre[x] = w
			ww += w
		}
		for x := 0; x < xmax; x++ {
			if ww != 0 {
				pre[x] /= ww
			}
		}
		for x := 0; x < ksize; x++ {
			v := 0.0
			if x < xmax {
				v = pre[x]
			}
			if v < 0 {
				kk[xx*ksize+x] = int32(-0.5 + v*(1<<pilPrecisionBits))
			} else {
				kk[xx*ksize+x] = int32(0.5 + v*(1<<pilPrecisionBits))
			}
		}
		bounds[2*xx], bounds[2*xx+1] = xmin, xmax
	}
	return bounds, kk, ksize
}

func bilinearFilter(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

func clip8(v int32) byte {
	if v >= 1<<pilPrecisionBits<<8 {
		return 255
	}
	if v <= 0 {
		return 0
	}
	return byte(v >> pilPrecisionBits)
}

// pilResizeBilinear is Pillow's Image.resize((ow, oh), Image.BILINEAR) for an
// RGB image: ImagingResampleInner's horizontal pass (when the width changes)
// then vertical pass (when the height changes), each rounding to 8 bits.
func pilResizeBilinear(im rgbImage, ow, oh int) rgbImage {
	if ow == im.w && oh == im.h {
		return im
	}
	if ow != im.w {
		bounds, kk, ksize := pilCoeffs(im.w, ow)
		out := rgbImage{w: ow, h: im.h, pix: make([]byte, 3*ow*im.h)}
		for y := 0; y < im.h; y++ {
			in := im.pix[3*y*im.w : 3*(y+1)*im.w]
			o := out.pix[3*y*ow : 3*(y+1)*ow]
			for xx := 0; xx < ow; xx++ {
				xmin, xmax := bounds[2*xx], bounds[2*xx+1]
				k := kk[xx*ksize : xx*ksize+xmax]
				s0, s1, s2 := int32(1<<(pilPrecisionBits-1)), int32(1<<(pilPrecisionBits-1)), int32(1<<(pilPrecisionBits-1))
				for x, kv := range k {
					p := in[3*(x+xmin):]
					s0 += int32(p[0]) * kv
					s1 += int32(p[1]) * kv
					s2 += int32(p[2]) * kv
				}
				o[3*xx], o[3*xx+1], o[3*xx+2] = clip8(s0), clip8(s1), clip8(s2)
			}
		}
		im = out
	}
	if oh != im.h {
		bounds, kk, ksize := pilCoeffs(im.h, oh)
		w := im.w
		out := rgbImage{w: w, h: oh, pix: make([]byte, 3*w*oh)}
		for yy := 0; yy < oh; yy++ {
			ymin, ymax := bounds[2*yy], bounds[2*yy+1]
			k := kk[yy*ksize : yy*ksize+ymax]
			o := out.pix[3*yy*w : 3*(yy+1)*w]
			for xx := 0; xx < w; xx++ {
				s0, s1, s2 := int32(1<<(pilPrecisionBits-1)), int32(1<<(pilPrecisionBits-1)), int32(1<<(pilPrecisionBits-1))
				for y, kv := range k {
					p := im.pix[3*((y+ymin)*w+xx):]
					s0 += int32(p[0]) * kv
					s1 += int32(p[1]) * kv
					s2 += int32(p[2]) * kv
				}
				o[3*xx], o[3*xx+1], o[3*xx+2] = clip8(s0), clip8(s1), clip8(s2)
			}
		}
		im = out
	}
	return im
}

// memberLabel names an image for messages and Dataset.Sources: the file, or
// "archive:member" for an archive member.
func memberLabel(archive, name string) string {
	if archive == "" {
		return name
	}
	return archive + ":" + path.Clean(name)
}
