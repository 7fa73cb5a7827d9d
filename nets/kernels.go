package nets

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
)

// Kernels are the loops the ops spend their time in, on the channel-major
// activation layout (C, N, H, W) that every op in this package uses: one
// channel of a whole batch is one contiguous row, so batch norm works on
// plain rows and a convolution over the batch is one matrix product.
//
// Each kernel is a variable holding the portable Go version (the reference
// in tests); the cgo build replaces the hot ones with vectorised C
// (kernels_native.go) at init.

// geom describes a 2-D window op (convolution or pooling) on (C, N, H, W).
type geom struct {
	C, N, H, W   int // input
	KH, KW       int // kernel
	Stride, Pad  int
	OH, OW       int // output, derived
	Cols, K, Pix int // derived: Pix = OH·OW; K = C·KH·KW
}

func newGeom(c, n, h, w, kh, kw, stride, pad int) geom {
	g := geom{C: c, N: n, H: h, W: w, KH: kh, KW: kw, Stride: stride, Pad: pad}
	g.OH = (h+2*pad-kh)/stride + 1
	g.OW = (w+2*pad-kw)/stride + 1
	g.Pix = g.OH * g.OW
	g.K = c * kh * kw
	return g
}

// pointwise reports whether the window is a 1×1, stride-1, unpadded one, for
// which the input already is the column matrix.
func (g geom) pointwise() bool { return g.KH == 1 && g.KW == 1 && g.Stride == 1 && g.Pad == 0 }

var (
	// im2col writes the column matrix of images [n0, n1) of x into col: row
	// (c·KH+ky)·KW+kx, column (n−n0)·Pix + oy·OW + ox, zero outside the image.
	im2col = refIm2col
	// col2im adds the column matrix back into dx (the adjoint of im2col).
	col2im = refCol2im
	// moments returns the mean and the biased variance of row.
	moments = refMoments
	// conv3x3Direct, when not nil, convolves images [n0, n1) of x with w
	// directly for geometries where useDirect holds, writing y's columns
	// n0·Pix… of every output row (rows ldy apart); with a not nil, it then
	// maps output channel c as scaleShift(·, a[c], b[c], act) does (act
	// ActNone or ActReLU).
	conv3x3Direct func(x, w []float32, g geom, cout, n0, n1 int, y []float32, ldy int, a, b []float32, act Act)
	// scaleShift writes out[i] = act(a·x[i] + b); out may be x itself.
	scaleShift = refScaleShift
	// bnGradSums returns Σg and Σg·x̂ with g = dy·act′(a·x + b) and
	// x̂ = (x − mean)·invstd, where a = gamma·invstd, b = beta − a·mean.
	bnGradSums = refBNGradSums
	// bnGradInput writes dx = k·(g − c1 − x̂·c2) with g and x̂ as in bnGradSums.
	bnGradInput = refBNGradInput
	// bnGradInputAdd writes into dst src plus what bnGradInput writes into
	// dx, the same floats; src may be dst.
	bnGradInputAdd = refBNGradInputAdd
	// maxPool2 pools 2×2 windows of h×w planes at stride 2, recording in
	// argmax each maximum's index within its plane (the first on ties).
	maxPool2 = refMaxPool2
	// toBlocked copies tasks [t0, t1) of x (C, N, HW) into the channel-blocked
	// y (N, ⌈C/B⌉, HW, B), zero past channel C; task n·⌈C/B⌉ + cb is block cb
	// of image n. These are the layouts oneDNN's convolutions compute in
	// (B = 16 or 8, or B = C: NHWC); fromBlocked copies them back. The dnnl
	// build calls the native ones from C (conv_dnnl.c).
	toBlocked   = refToBlocked
	fromBlocked = refFromBlocked
	// packedGEMM, when not nil, is our GEMM on operands packed for the
	// kernel level's register tile, with the 3×3 convolutions built on it
	// (the cgo build's nk_pw_*; pointwisePacked and packed3x3 say where
	// they run).
	packedGEMM *packedKernels
)

// packedKernels multiply y = w·x for 1×1 convolutions, a register tile of
// mr × nr outputs summed over k in order from zero, so that an output's
// floats do not depend on the tile it falls in. packA packs the m × k
// weights (w row-major, or with trans its k × m transpose); packB packs
// columns [p0, p1) of the k rows of x (ld apart), mapped as scaleShift(·,
// a[row], b[row], act) does when a is not nil; gemm writes the m × n
// outputs into y (rows ldy apart) — with stream, past the caches where the
// level can (non-temporal stores): for a y larger than the caches that
// nothing reads before gemm returns, it saves reading each line in before
// writing it, and the other rows' lines it would evict.
type packedKernels struct {
	tile  func() (mr, nr int)
	packA func(w []float32, m, k int, trans bool, ap []float32)
	packB func(x []float32, ld, k, p0, p1 int, a, b []float32, act Act, bp []float32)
	gemm  func(ap, bp []float32, m, n, k int, y []float32, ldy int, stream bool)
	// conv3x3 convolves images [n0, n1) of x at 3×3, stride 1, padding 1
	// with the cout × 9·C weights packed by packA, packing each tile of
	// output pixels' columns as it goes; output channel co of image n goes
	// to y[co·ldy + n·Pix …]. With a not nil, it convolves channel c of x
	// mapped as scaleShift(·, a[c], b[c], act) does: a batch norm's output,
	// made as the planes are copied, so it never goes to memory.
	conv3x3 func(x, a, b []float32, act Act, ap []float32, g geom, cout, n0, n1 int, y []float32, ldy int)
	// weightGrad3x3 writes the weight gradient (cout × C × 3 × 3) of that
	// convolution over images [n0, n1) of x (mapped as conv3x3 maps it) and
	// dy (cout, N, H, W), and reports false, writing nothing, for a width
	// it does not handle.
	weightGrad3x3 func(x, a, b []float32, act Act, dy []float32, g geom, cout, n0, n1 int, dw []float32) bool
	// weightGrad1x1 adds to dw (m × k) a 1×1 convolution's weight
	// gradient dy·x̂ᵀ over columns [p0, p1): dy's m rows ldy apart, x̂ the k
	// rows of x (ld apart) mapped as packB maps them, both packed into t
	// (sizeT floats) first. Each output's sum goes on over the columns in
	// order, so tiles do not change its floats.
	weightGrad1x1 func(dy []float32, ldy, m int, x []float32, ld, k, p0, p1 int, a, b []float32, act Act, t, dw []float32)
	sizeT         func(m, k, n int) int
}

// sizeA and sizeB are the floats the packed weights and a packed tile of n
// columns take.
func (p *packedKernels) sizeA(m, k int) int { mr, _ := p.tile(); return (m + mr - 1) / mr * mr * k }
func (p *packedKernels) sizeB(n, k int) int { _, nr := p.tile(); return (n + nr - 1) / nr * nr * k }

func refToBlocked(x []float32, c, n, hw, b, t0, t1 int, y []float32) {
	cb := (c + b - 1) / b
	for t := t0; t < t1; t++ {
		img, c0, yt := t/cb, t%cb*b, t*hw*b
		for j := range b {
			for p := range hw {
				v := float32(0)
				if c0+j < c {
					v = x[((c0+j)*n+img)*hw+p]
				}
				y[yt+p*b+j] = v
			}
		}
	}
}

func refFromBlocked(y []float32, c, n, hw, b, t0, t1 int, x []float32) {
	cb := (c + b - 1) / b
	for t := t0; t < t1; t++ {
		img, c0, yt := t/cb, t%cb*b, t*hw*b
		for j := 0; j < b && c0+j < c; j++ {
			for p := range hw {
				x[((c0+j)*n+img)*hw+p] = y[yt+p*b+j]
			}
		}
	}
}

func refMaxPool2(x, y []float32, argmax []int32, h, w int) {
	oh, ow := h/2, w/2
	for p := 0; p < len(x)/(h*w); p++ {
		src := x[p*h*w : (p+1)*h*w]
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				i0 := 2*oy*w + 2*ox
				best, bi := src[i0], i0
				for _, i := range [3]int{i0 + 1, i0 + w, i0 + w + 1} {
					if src[i] > best {
						best, bi = src[i], i
					}
				}
				o := p*oh*ow + oy*ow + ox
				y[o], argmax[o] = best, int32(bi)
			}
		}
	}
}

func refIm2col(x []float32, g geom, n0, n1 int, col []float32) {
	cols := (n1 - n0) * g.Pix
	plane := g.H * g.W
	for c := 0; c < g.C; c++ {
		for ky := 0; ky < g.KH; ky++ {
			for kx := 0; kx < g.KW; kx++ {
				row := col[((c*g.KH+ky)*g.KW+kx)*cols:][:cols]
				j := 0
				for n := n0; n < n1; n++ {
					img := x[(c*g.N+n)*plane:][:plane]
					for oy := 0; oy < g.OH; oy++ {
						iy := oy*g.Stride - g.Pad + ky
						if iy < 0 || iy >= g.H {
							for ox := 0; ox < g.OW; ox++ {
								row[j] = 0
								j++
							}
							continue
						}
						src := img[iy*g.W:][:g.W]
						for ox := 0; ox < g.OW; ox++ {
							ix := ox*g.Stride - g.Pad + kx
							if ix < 0 || ix >= g.W {
								row[j] = 0
							} else {
								row[j] = src[ix]
							}
							j++
						}
					}
				}
			}
		}
	}
}

func refCol2im(col []float32, g geom, n0, n1 int, dx []float32) {
	cols := (n1 - n0) * g.Pix
	plane := g.H * g.W
	for c := 0; c < g.C; c++ {
		for ky := 0; ky < g.KH; ky++ {
			for kx := 0; kx < g.KW; kx++ {
				row := col[((c*g.KH+ky)*g.KW+kx)*cols:][:cols]
				j := 0
				for n := n0; n < n1; n++ {
					img := dx[(c*g.N+n)*plane:][:plane]
					for oy := 0; oy < g.OH; oy++ {
						iy := oy*g.Stride - g.Pad + ky
						if iy < 0 || iy >= g.H {
							j += g.OW
							continue
						}
						dst := img[iy*g.W:][:g.W]
						for ox := 0; ox < g.OW; ox++ {
							ix := ox*g.Stride - g.Pad + kx
							if ix >= 0 && ix < g.W {
								dst[ix] += row[j]
							}
							j++
						}
					}
				}
			}
		}
	}
}

func refMoments(row []float32) (mean, variance float64) {
	var s float64
	for _, v := range row {
		s += float64(v)
	}
	mean = s / float64(len(row))
	var q float64
	for _, v := range row {
		d := float64(v) - mean
		q += d * d
	}
	return mean, q / float64(len(row))
}

// Act is the activation a batch norm (or a channel shift) applies after its
// affine map: none, ReLU, or the GELU x·Φ(x) (Hendrycks & Gimpel, 2016),
// exact as PyTorch's nn.GELU (the native kernels take erf to 1.5e-7).
type Act int

const (
	ActNone Act = iota
	ActReLU
	ActGELU
)

func (a Act) String() string { return [...]string{"", "+relu", "+gelu"}[a] }

// actGrad is act(v) and its derivative.
func actGrad(act Act, v float32) (y, d float32) {
	switch act {
	case ActReLU:
		if v > 0 {
			return v, 1
		}
		return 0, 0
	case ActGELU:
		u := float64(v)
		cdf := 0.5 * (1 + math.Erf(u/math.Sqrt2))
		return float32(u * cdf), float32(cdf + u*math.Exp(-u*u/2)/math.Sqrt(2*math.Pi))
	}
	return v, 1
}

func refScaleShift(x, out []float32, a, b float32, act Act) {
	out = out[:len(x)]
	for i, v := range x {
		y := a*v + b
		switch act {
		case ActReLU:
			if y < 0 {
				y = 0
			}
		case ActGELU:
			y, _ = actGrad(act, y)
		}
		out[i] = y
	}
}

func refBNGradSums(x, dy []float32, mean, invstd, a, b float32, act Act) (sumG, sumGX float64) {
	dy = dy[:len(x)]
	for i, v := range x {
		g := dy[i]
		if act == ActReLU && a*v+b <= 0 {
			continue
		}
		if act == ActGELU {
			_, d := actGrad(act, a*v+b)
			g *= d
		}
		sumG += float64(g)
		sumGX += float64(g) * float64((v-mean)*invstd)
	}
	return sumG, sumGX
}

func refBNGradInput(x, dy, dx []float32, mean, invstd, a, b, k, c1, c2 float32, act Act) {
	dy, dx = dy[:len(x)], dx[:len(x)]
	for i, v := range x {
		g := dy[i]
		if act == ActReLU && a*v+b <= 0 {
			g = 0
		}
		if act == ActGELU {
			_, d := actGrad(act, a*v+b)
			g *= d
		}
		dx[i] = k * (g - c1 - (v-mean)*invstd*c2)
	}
}

func refBNGradInputAdd(x, dy, src, dst []float32, mean, invstd, a, b, k, c1, c2 float32, act Act) {
	var tmp [1024]float32
	for i0 := 0; i0 < len(x); i0 += len(tmp) {
		i1 := min(i0+len(tmp), len(x))
		t := tmp[:i1-i0]
		bnGradInput(x[i0:i1], dy[i0:i1], t, mean, invstd, a, b, k, c1, c2, act)
		for i, v := range t {
			dst[i0+i] = src[i0+i] + v
		}
	}
}

// useDirect reports whether conv3x3Direct handles g with cout output
// channels and a fused activation act: 3×3, stride 1, pad 1, at most four
// input channels, rows of 32, a multiple of four output channels, no GELU.
func useDirect(g geom, cout int, act Act) bool {
	return conv3x3Direct != nil && act != ActGELU && g.KH == 3 && g.KW == 3 && g.Stride == 1 && g.Pad == 1 && g.C <= 4 && g.OW == 32 && cout%4 == 0
}

// KernelsEnv names the variable that picks the instruction-set level of the
// native kernels (im2col, batch norm, pooling, the direct convolution):
// "auto" (the default: the fastest this CPU runs), "avx512", "avx2" (what a
// CPU without AVX-512 runs) or "generic" (baseline x86-64 or the
// architecture's own). The pure-Go build has one level, "go". The BLAS is
// chosen apart from it (CoreEnv and OPENBLAS_CORETYPE in the OpenBLAS build).
const KernelsEnv = "MCDOOD_KERNELS"

// kernelLevel is the level in use; envErr holds what was wrong with the
// environment's choices when the package started (see EnvErr).
var (
	kernelLevel string
	envErr      = SetKernels(os.Getenv(KernelsEnv))
)

// KernelLevels lists the kernel levels this CPU and build run, fastest first.
func KernelLevels() []string { return kernelLevels() }

// Kernels names the kernel level in use.
func Kernels() string { return kernelLevel }

// SetKernels selects a kernel level by name ("auto" or "" for the fastest)
// and returns an error, changing nothing, for a level this CPU or build does
// not run. It must not be called while a program runs.
func SetKernels(name string) error {
	levels := kernelLevels()
	if name == "" || name == "auto" {
		name = levels[0]
	}
	if !slices.Contains(levels, name) {
		return fmt.Errorf("%s=%q: this CPU and build run %s (or auto)", KernelsEnv, name, strings.Join(levels, ", "))
	}
	useKernelLevel(name)
	kernelLevel = name
	return nil
}

// EnvErr reports a bad MCDOOD_KERNELS or MCDOOD_BLAS_CORE found when the
// package started, which then fell back to its default; commands check it
// before doing any work.
func EnvErr() error { return envErr }
