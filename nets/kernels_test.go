package nets

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

func closeSlices(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > tol*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("%s[%d] = %v, reference %v", what, i, got[i], want[i])
		}
	}
}

// eachKernelPath runs fn (a test or a benchmark) once on every kernel level
// this CPU and build run (avx512, avx2, generic; go in the pure-Go build),
// then restores the level in use.
func eachKernelPath[T interface{ Run(string, func(T)) bool }](t T, fn func(T)) {
	defer SetKernels(Kernels())
	for _, level := range KernelLevels() {
		if err := SetKernels(level); err != nil {
			panic(err)
		}
		t.Run(level, fn)
	}
}

// fma32 is a·b + c rounded once to float32, as a fused multiply-add
// instruction computes it: through float64, whose rounding then differs
// from one rounding only when it lands halfway between two float32s, and
// then exactly.
func fma32(a, b, c float32) float32 {
	r := math.FMA(float64(a), float64(b), float64(c))
	f := float32(r)
	if float64(f) != r && !math.IsInf(r, 0) {
		nb := math.Nextafter32(f, float32(math.Copysign(math.Inf(1), r-float64(f))))
		if r == (float64(f)+float64(nb))/2 {
			e := new(big.Float).SetPrec(256).SetFloat64(float64(a))
			e.Mul(e, new(big.Float).SetFloat64(float64(b)))
			e.Add(e, new(big.Float).SetFloat64(float64(c)))
			f, _ = e.Float32()
		}
	}
	return f
}

// madd32 is a·b + c as the kernel level computes it: one fused
// multiply-add on AVX2 and AVX-512, a product and a sum on the generic
// level (x86-64 has no FMA instruction).
func madd32(a, b, c float32) float32 {
	if kernelLevel == "generic" {
		p := a * b // rounded before the sum
		return p + c
	}
	return fma32(a, b, c)
}

// inOrder checks that got is the float32 sum of the products terms(i) in
// order, from start, one multiply-add (madd32) at a time: the order the
// packed kernels promise.
func inOrder(t *testing.T, what string, got, start float32, n int, term func(i int) (float32, float32)) {
	t.Helper()
	acc := start
	for i := range n {
		a, b := term(i)
		acc = madd32(a, b, acc)
	}
	if math.Float32bits(got) != math.Float32bits(acc) {
		t.Fatalf("%s = %v, the products summed in order %v", what, got, acc)
	}
}

// TestKernelsMatchReference checks the kernels in use (vectorised C in the
// cgo build) against the portable Go reference versions.
func TestKernelsMatchReference(t *testing.T) { eachKernelPath(t, testKernelsMatchReference) }

func testKernelsMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, g := range []geom{
		newGeom(3, 5, 9, 7, 3, 3, 1, 1), newGeom(4, 3, 8, 8, 3, 3, 2, 1), newGeom(2, 4, 6, 6, 1, 1, 2, 0),
		newGeom(3, 2, 7, 5, 5, 5, 1, 2), newGeom(5, 3, 4, 4, 3, 3, 1, 1), newGeom(2, 2, 9, 9, 3, 3, 3, 0),
		// The widths the native im2col copies with fixed-size loops (32, 16, 8).
		newGeom(3, 3, 32, 32, 3, 3, 1, 1), newGeom(4, 3, 32, 32, 3, 3, 2, 1), newGeom(2, 3, 16, 16, 3, 3, 2, 1),
		newGeom(2, 3, 8, 8, 3, 3, 1, 1), newGeom(2, 3, 10, 11, 3, 3, 2, 0),
		// The native stride-2, padding-1 3×3 path: odd sizes, rows of more
		// than one 16-output block with a tail, a single column.
		newGeom(3, 3, 9, 7, 3, 3, 2, 1), newGeom(2, 2, 40, 37, 3, 3, 2, 1), newGeom(2, 2, 5, 66, 3, 3, 2, 1),
		newGeom(2, 2, 3, 1, 3, 3, 2, 1), newGeom(2, 2, 2, 2, 3, 3, 2, 1),
		// The native stride-1, padding-1 3×3 path: rows of several 16-output
		// blocks with and without a tail, one column, one row, width 4.
		newGeom(2, 2, 5, 40, 3, 3, 1, 1), newGeom(2, 3, 6, 17, 3, 3, 1, 1), newGeom(2, 2, 3, 33, 3, 3, 1, 1),
		newGeom(2, 2, 4, 1, 3, 3, 1, 1), newGeom(2, 2, 1, 5, 3, 3, 1, 1), newGeom(3, 4, 4, 4, 3, 3, 1, 1),
	} {
		x := randSlice(rng, g.C*g.N*g.H*g.W)
		n0, n1 := 1, g.N
		got, want := make([]float32, g.K*(n1-n0)*g.Pix), make([]float32, g.K*(n1-n0)*g.Pix)
		for i := range got {
			got[i], want[i] = 99, 99 // every element must be written
		}
		im2col(x, g, n0, n1, got)
		refIm2col(x, g, n0, n1, want)
		closeSlices(t, "im2col", got, want, 0)
		dxGot, dxWant := randSlice(rng, len(x)), make([]float32, len(x))
		copy(dxWant, dxGot)
		col2im(want, g, n0, n1, dxGot)
		refCol2im(want, g, n0, n1, dxWant)
		closeSlices(t, "col2im", dxGot, dxWant, 1e-6)
	}
	for _, n := range []int{1, 7, 2048, 5000, 70001} {
		x, dy := randSlice(rng, n), randSlice(rng, n)
		for i := range x {
			x[i] = 3*x[i] + 1.5
		}
		m, v := moments(x)
		rm, rv := refMoments(x)
		if math.Abs(m-rm) > 1e-5 || math.Abs(v-rv) > 1e-4*rv {
			t.Fatalf("moments(n=%d) = %v, %v; reference %v, %v", n, m, v, rm, rv)
		}
		for _, act := range []Act{ActNone, ActReLU, ActGELU} {
			a, b, mean, inv := float32(0.7), float32(-0.3), float32(1.5), float32(0.33)
			got, want := make([]float32, n), make([]float32, n)
			scaleShift(x, got, a, b, act)
			refScaleShift(x, want, a, b, act)
			// GELU: erf to 1.5e-7 absolute in the native kernels.
			closeSlices(t, "scaleShift"+act.String(), got, want, 1e-6)
			sg, sgx := bnGradSums(x, dy, mean, inv, a, b, act)
			rg, rgx := refBNGradSums(x, dy, mean, inv, a, b, act)
			if math.Abs(sg-rg) > 1e-3*(1+math.Abs(rg)) || math.Abs(sgx-rgx) > 1e-3*(1+math.Abs(rgx)) {
				t.Fatalf("bnGradSums(n=%d act=%v) = %v, %v; reference %v, %v", n, act, sg, sgx, rg, rgx)
			}
			bnGradInput(x, dy, got, mean, inv, a, b, 0.9, 0.1, 0.2, act)
			refBNGradInput(x, dy, want, mean, inv, a, b, 0.9, 0.1, 0.2, act)
			closeSlices(t, "bnGradInput"+act.String(), got, want, 1e-5)
			// The adding form gives src + what bnGradInput wrote, exactly, in
			// place or into another buffer (at unaligned offsets too, but for
			// GELU, whose vector and scalar tails differ in the last bit).
			offsets := []int{0, min(3, n-1)}
			if act == ActGELU {
				offsets = offsets[:1]
			}
			for _, off := range offsets {
				acc, sum := randSlice(rng, n-off), make([]float32, n-off)
				for i := range sum {
					sum[i] = acc[i] + got[off+i]
				}
				dst := make([]float32, len(acc))
				bnGradInputAdd(x[off:], dy[off:], acc, dst, mean, inv, a, b, 0.9, 0.1, 0.2, act)
				closeSlices(t, "bnGradInputAdd"+act.String()+" into another buffer", dst, sum, 0)
				bnGradInputAdd(x[off:], dy[off:], acc, acc, mean, inv, a, b, 0.9, 0.1, 0.2, act)
				closeSlices(t, "bnGradInputAdd"+act.String(), acc, sum, 0)
			}
		}
	}
	for _, hw := range [][2]int{{6, 8}, {7, 5}, {31, 31}} {
		h, w := hw[0], hw[1]
		x := randSlice(rng, 3*h*w)
		x[1] = x[0] // a tie: the first maximum wins in both
		y, yr := make([]float32, 3*(h/2)*(w/2)), make([]float32, 3*(h/2)*(w/2))
		a, ar := make([]int32, len(y)), make([]int32, len(y))
		maxPool2(x, y, a, h, w)
		refMaxPool2(x, yr, ar, h, w)
		closeSlices(t, "maxPool2", y, yr, 0)
		for i := range a {
			if a[i] != ar[i] {
				t.Fatalf("maxPool2 %dx%d argmax[%d] = %d, reference %d", h, w, i, a[i], ar[i])
			}
		}
	}
}

// The copies into and out of oneDNN's channel-blocked layouts match the Go
// reference on every level: 16- and 8-channel blocks with tiles and tails of
// channels and pixels, blocks past the last channel (zeros), NHWC (B = C),
// and a range of tasks that starts inside a block.
func TestBlockedLayoutsMatchReference(t *testing.T) {
	eachKernelPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 5))
		for _, s := range [][4]int{ // C, N, HW, B
			{16, 3, 16, 16}, {32, 2, 17, 16}, {12, 2, 64, 16}, {40, 2, 9, 16}, {3, 2, 1024, 16},
			{24, 2, 20, 8}, {3, 2, 10, 8}, {20, 3, 64, 8},
			{64, 2, 16, 64}, {48, 3, 9, 48}, {20, 2, 16, 20},
		} {
			c, n, hw, b := s[0], s[1], s[2], s[3]
			tasks := n * ((c + b - 1) / b)
			t0 := tasks / 3
			x := randSlice(rng, c*n*hw)
			got, want := fill(tasks*hw*b, 99), fill(tasks*hw*b, 99)
			toBlocked(x, c, n, hw, b, t0, tasks, got)
			refToBlocked(x, c, n, hw, b, t0, tasks, want)
			closeSlices(t, fmt.Sprintf("toBlocked %v", s), got, want, 0)
			back, wantBack := fill(len(x), 99), fill(len(x), 99)
			fromBlocked(want, c, n, hw, b, t0, tasks, back)
			refFromBlocked(want, c, n, hw, b, t0, tasks, wantBack)
			closeSlices(t, fmt.Sprintf("fromBlocked %v", s), back, wantBack, 0)
			refToBlocked(x, c, n, hw, b, 0, t0, want)
			refFromBlocked(want, c, n, hw, b, 0, t0, wantBack)
			closeSlices(t, fmt.Sprintf("round trip %v", s), wantBack, x, 0)
		}
	})
}

// The direct convolution of the image layer (native builds) matches
// im2col + GEMM, followed by scaleShift when a batch norm is fused in.
func TestDirectConvMatchesGEMM(t *testing.T) { eachKernelPath(t, testDirectConvMatchesGEMM) }

func testDirectConvMatchesGEMM(t *testing.T) {
	if conv3x3Direct == nil {
		t.Skip("no direct convolution in this build")
	}
	rng := rand.New(rand.NewPCG(8, 8))
	for i, c := range []struct{ cin, cout, n int }{{3, 32, 5}, {1, 4, 2}, {4, 16, 3}, {2, 12, 2}} {
		g := newGeom(c.cin, c.n, 32, 32, 3, 3, 1, 1)
		if !useDirect(g, c.cout, ActReLU) {
			t.Fatalf("%+v: direct path not taken", c)
		}
		x, w := randSlice(rng, g.C*g.N*g.H*g.W), randSlice(rng, c.cout*g.K)
		// No batch norm, then one with and one without ReLU.
		var a, b []float32
		if i > 0 {
			a, b = randSlice(rng, c.cout), randSlice(rng, c.cout)
		}
		act := []Act{ActNone, ActReLU}[i%2]
		ld := g.N * g.Pix
		got, want := make([]float32, c.cout*ld), make([]float32, c.cout*ld)
		for i := range got {
			got[i] = 99 // every element must be written
		}
		conv3x3Direct(x, w, g, c.cout, 1, g.N, got, ld, a, b, act)
		col := make([]float32, g.K*(g.N-1)*g.Pix)
		refIm2col(x, g, 1, g.N, col)
		sgemm(false, false, c.cout, (g.N-1)*g.Pix, g.K, 1, w, g.K, col, (g.N-1)*g.Pix, 0, want[g.Pix:], ld)
		for co := range c.cout {
			row := want[co*ld+g.Pix : (co+1)*ld]
			if a != nil {
				refScaleShift(row, row, a[co], b[co], act)
			}
			closeSlices(t, "direct conv", got[co*ld+g.Pix:(co+1)*ld], row, 1e-5)
		}
	}
	if useDirect(newGeom(3, 2, 32, 32, 3, 3, 2, 1), 32, ActNone) || useDirect(newGeom(3, 2, 32, 32, 3, 3, 1, 1), 30, ActNone) || useDirect(newGeom(8, 2, 32, 32, 3, 3, 1, 1), 32, ActNone) || useDirect(newGeom(3, 2, 32, 32, 3, 3, 1, 1), 32, ActGELU) {
		t.Error("direct path taken for a geometry it does not handle")
	}
}

// TestFMAPeak checks that the peak loop runs on every kernel level (and
// reports nothing in the pure-Go build) and that the wider vectors are the
// faster, as the fraction-of-peak figures assume.
func TestFMAPeak(t *testing.T) {
	peaks := map[string]float64{}
	eachKernelPath(t, func(t *testing.T) {
		p := FMAPeak()
		if Kernels() == "go" {
			if p != 0 {
				t.Fatalf("pure-Go FMAPeak = %v, want 0", p)
			}
			return
		}
		if p < 1 || p > 1e5 {
			t.Fatalf("FMAPeak = %v GFLOP/s", p)
		}
		peaks[Kernels()] = p
	})
	if a, b := peaks["avx512"], peaks["avx2"]; a > 0 && b > 0 && a < 1.2*b {
		t.Logf("AVX-512 peak %.0f is not well above AVX2's %.0f (a CPU with one 512-bit FMA unit, or double-pumped)", a, b)
	}
}

// eachWidth calls fn with the tiles [p0, p1) of columns [lo, hi), in
// order, their widths taken from widths in turn (cycling).
func eachWidth(lo, hi int, widths []int, fn func(p0, p1 int)) {
	for p0, i := lo, 0; p0 < hi; i++ {
		p1 := min(hi, p0+widths[i%len(widths)])
		fn(p0, p1)
		p0 = p1
	}
}

// alignedFloats is n floats starting on a 64-byte boundary.
func alignedFloats(n int) []float32 {
	buf := make([]float32, n+16)
	off := int(-uintptr(unsafe.Pointer(&buf[0])) % 64 / 4)
	return buf[off : off+n : off+n]
}

// TestPackedGEMM checks the packed GEMM of 1×1 convolutions (packedGEMM) on
// every kernel level: against a float64 product of the batch norm's output
// (as scaleShift maps it), writing nothing past its m rows and n columns,
// and bit for bit against itself multiplying the columns in other tiles
// (odd widths, offsets off the register tile), which is what keeps a fused
// convolution's floats equal to the layered one's.
func TestPackedGEMM(t *testing.T) { eachKernelPath(t, testPackedGEMM) }

func testPackedGEMM(t *testing.T) {
	pk := packedGEMM
	if pk == nil {
		t.Skip("no packed GEMM in this build")
	}
	rng := rand.New(rand.NewPCG(5, 5))
	for _, c := range []struct{ m, k, n int }{{48, 24, 64}, {48, 300, 200}, {13, 7, 37}, {1, 1, 1}, {50, 33, 129}, {12, 5, 1100}} {
		ld := (c.n + 5 + 15) / 16 * 16 // rows a multiple of 64 bytes apart: streamed stores can take them
		x, w := randSlice(rng, c.k*ld), randSlice(rng, c.m*c.k)
		a, b := randSlice(rng, c.k), randSlice(rng, c.k)
		for _, bn := range []bool{false, true} {
			name := fmt.Sprintf("%dx%dx%d bn %v", c.m, c.k, c.n, bn)
			var pa, pb []float32
			xin := x
			if bn {
				pa, pb = a, b
				xin = make([]float32, len(x))
				for r := range c.k {
					scaleShift(x[r*ld:(r+1)*ld], xin[r*ld:(r+1)*ld], a[r], b[r], ActReLU)
				}
			}
			ap, apT := make([]float32, pk.sizeA(c.m, c.k)), make([]float32, pk.sizeA(c.m, c.k))
			pk.packA(w, c.m, c.k, false, ap)
			wT := make([]float32, len(w)) // w stored transposed: packs the same
			for i := range c.m {
				for kk := range c.k {
					wT[kk*c.m+i] = w[i*c.k+kk]
				}
			}
			pk.packA(wT, c.m, c.k, true, apT)
			if !slices.Equal(ap, apT) {
				t.Fatalf("%dx%d: the transposed weights pack otherwise", c.m, c.k)
			}
			run := func(tiles []int, stream bool) []float32 {
				y := alignedFloats(c.m * ld)
				for i := range y {
					y[i] = float32(math.NaN())
				}
				eachWidth(0, c.n, tiles, func(p0, p1 int) {
					bp := make([]float32, pk.sizeB(p1-p0, c.k))
					pk.packB(x, ld, c.k, p0, p1, pa, pb, ActReLU, bp)
					pk.gemm(ap, bp, c.m, p1-p0, c.k, y[p0:], ld, stream)
				})
				return y
			}
			whole := run([]int{c.n}, false)
			for i := range c.m {
				for j := range ld {
					got := whole[i*ld+j]
					if j >= c.n {
						if !math.IsNaN(float64(got)) {
							t.Fatalf("%s: wrote y[%d][%d], past the %d columns", name, i, j, c.n)
						}
						continue
					}
					var want, mag float64
					for kk := range c.k {
						p := float64(w[i*c.k+kk]) * float64(xin[kk*ld+j])
						want, mag = want+p, mag+math.Abs(p)
					}
					if math.Abs(float64(got)-want) > 1e-5*(mag+1) {
						t.Fatalf("%s: y[%d][%d] = %v, float64 product %v", name, i, j, got, want)
					}
				}
			}
			for i := range c.m {
				for j := range c.n {
					inOrder(t, fmt.Sprintf("%s: y[%d][%d]", name, i, j), whole[i*ld+j], 0, c.k, func(kk int) (float32, float32) {
						return w[i*c.k+kk], xin[kk*ld+j]
					})
				}
			}
			// In other tiles, and streamed past the caches (whole register
			// tiles, at the aligned offsets: tiles of 64).
			for _, r := range []struct {
				tiles  []int
				stream bool
			}{{[]int{7, 64, 3, 33}, false}, {[]int{64}, true}, {[]int{7, 64, 3, 33}, true}} {
				tiled := run(r.tiles, r.stream)
				for i := range whole[:c.m*ld] {
					if math.Float32bits(whole[i]) != math.Float32bits(tiled[i]) {
						t.Fatalf("%s: y[%d] = %v in tiles %v (streamed: %v), %v whole", name, i, tiled[i], r.tiles, r.stream, whole[i])
					}
				}
			}
		}
	}
}

// TestPackedWeightGrad1x1 checks the 1×1 weight gradient on the packed
// GEMM (packedKernels.weightGrad1x1) against a float64 sum, with and
// without the batch norm mapped in, on shapes that fill no register tile
// and tiles that end mid-block: that it adds to dw, reads nothing past a
// tile (NaN there), writes nothing past dw, and gives each output the same
// floats on any tiles and wherever it falls in the register tile.
func TestPackedWeightGrad1x1(t *testing.T) { eachKernelPath(t, testPackedWeightGrad1x1) }

func testPackedWeightGrad1x1(t *testing.T) {
	pk := packedGEMM
	if pk == nil {
		t.Skip("no packed GEMM in this build")
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for _, c := range []struct{ m, k, p0, p1 int }{{48, 24, 0, 320}, {48, 343, 64, 128}, {5, 7, 3, 40}, {1, 1, 0, 1}, {13, 10, 10, 27}, {12, 33, 0, 200}} {
		ld := c.p1 + 6
		x, dy := randSlice(rng, c.k*ld), randSlice(rng, c.m*ld)
		for j := range ld { // NaN outside the columns: read, it would poison the sums
			if j < c.p0 || j >= c.p1 {
				for r := range c.k {
					x[r*ld+j] = float32(math.NaN())
				}
				for r := range c.m {
					dy[r*ld+j] = float32(math.NaN())
				}
			}
		}
		a, b := randSlice(rng, c.k), randSlice(rng, c.k)
		start := func(o int) float32 { return float32(o%3) - 1 } // dw's floats before
		run := func(dy, x []float32, m, k int, a, b []float32, o0 int, tiles []int) []float32 {
			dw := make([]float32, m*k+1)
			for i := range m * k {
				dw[i] = start(o0 + i)
			}
			dw[m*k] = 42 // past dw: stays
			eachWidth(c.p0, c.p1, tiles, func(p0, p1 int) {
				tmp := make([]float32, pk.sizeT(m, k, p1-p0))
				pk.weightGrad1x1(dy, ld, m, x, ld, k, p0, p1, a, b, ActReLU, tmp, dw[:m*k])
			})
			if dw[m*k] != 42 {
				t.Fatalf("%dx%d: wrote past dw", m, k)
			}
			return dw[:m*k]
		}
		for _, bn := range []bool{false, true} {
			name := fmt.Sprintf("%dx%d [%d, %d) bn %v", c.m, c.k, c.p0, c.p1, bn)
			var pa, pb []float32
			if bn {
				pa, pb = a, b
			}
			dw := run(dy, x, c.m, c.k, pa, pb, 0, []int{c.p1})
			for i := range c.m {
				for kk := range c.k {
					want, mag := float64(start(i*c.k+kk)), 0.0
					for j := c.p0; j < c.p1; j++ {
						v := x[kk*ld+j]
						if bn {
							v = max(0, a[kk]*v+b[kk])
						}
						p := float64(dy[i*ld+j]) * float64(v)
						want, mag = want+p, mag+math.Abs(p)
					}
					if got := dw[i*c.k+kk]; math.Abs(float64(got)-want) > 1e-5*(mag+1) {
						t.Fatalf("%s: dw[%d][%d] = %v, float64 sum %v", name, i, kk, got, want)
					}
				}
			}
			for i := range c.m {
				for kk := range c.k {
					inOrder(t, fmt.Sprintf("%s: dw[%d][%d]", name, i, kk), dw[i*c.k+kk], start(i*c.k+kk), c.p1-c.p0, func(j int) (float32, float32) {
						v := x[kk*ld+c.p0+j]
						if bn {
							v = max(0, madd32(a[kk], v, b[kk]))
						}
						return dy[i*ld+c.p0+j], v
					})
				}
			}
			tiled := run(dy, x, c.m, c.k, pa, pb, 0, []int{7, 64, 3, 33})
			for i := range dw {
				if math.Float32bits(dw[i]) != math.Float32bits(tiled[i]) {
					t.Fatalf("%s: dw[%d] = %v in tiles, %v whole", name, i, tiled[i], dw[i])
				}
			}
			// Output (i, kk) alone, as the one output of 1 × 1: the same floats.
			for _, o := range [][2]int{{0, 0}, {c.m - 1, c.k - 1}, {c.m / 2, c.k / 2}} {
				var oa, ob []float32
				if bn {
					oa, ob = a[o[1]:o[1]+1], b[o[1]:o[1]+1]
				}
				one := run(dy[o[0]*ld:], x[o[1]*ld:], 1, 1, oa, ob, o[0]*c.k+o[1], []int{c.p1})
				if got := dw[o[0]*c.k+o[1]]; math.Float32bits(one[0]) != math.Float32bits(got) {
					t.Fatalf("%s: dw[%d][%d] = %v alone, %v in its register tile", name, o[0], o[1], one[0], got)
				}
			}
		}
	}
}

// TestPacked3x3MatchesGEMM checks the packed GEMM's 3×3 convolution
// (packedKernels.conv3x3) against im2col and the BLAS on every kernel
// level: rows whose width is a multiple of the vectors (read in place),
// of 8 on AVX-512 (half vectors), and odd widths (packed), with output
// channels that fill no register tile and pixel counts that end mid-tile.
func TestPacked3x3MatchesGEMM(t *testing.T) { eachKernelPath(t, testPacked3x3MatchesGEMM) }

func testPacked3x3MatchesGEMM(t *testing.T) {
	pk := packedGEMM
	if pk == nil {
		t.Skip("no packed GEMM in this build")
	}
	rng := rand.New(rand.NewPCG(6, 6))
	for _, c := range []struct{ g geom }{
		{newGeom(5, 3, 32, 32, 3, 3, 1, 1)}, {newGeom(7, 2, 16, 16, 3, 3, 1, 1)}, {newGeom(48, 2, 8, 8, 3, 3, 1, 1)},
		{newGeom(3, 2, 5, 7, 3, 3, 1, 1)}, {newGeom(4, 1, 1, 8, 3, 3, 1, 1)}, {newGeom(6, 2, 8, 24, 3, 3, 1, 1)},
		{newGeom(2, 2, 3, 40, 3, 3, 1, 1)},
	} {
		g := c.g
		for _, cout := range []int{12, 13, 4, 1} {
			x, w := randSlice(rng, g.C*g.N*g.H*g.W), randSlice(rng, cout*g.K)
			ld := g.N*g.Pix + 3
			want := make([]float32, cout*ld)
			col := make([]float32, g.K*g.N*g.Pix)
			im2col(x, g, 0, g.N, col)
			sgemm(false, false, cout, g.N*g.Pix, g.K, 1, w, g.K, col, g.N*g.Pix, 0, want, ld)
			ap := make([]float32, pk.sizeA(cout, g.K))
			pk.packA(w, cout, g.K, false, ap)
			got := make([]float32, cout*ld)
			for i := range got {
				got[i] = float32(math.NaN())
			}
			pk.conv3x3(x, nil, nil, ActNone, ap, g, cout, 0, 1, got, ld) // image by image, as the workers split them
			pk.conv3x3(x, nil, nil, ActNone, ap, g, cout, 1, g.N, got, ld)
			for co := range cout {
				for j := g.N * g.Pix; j < ld; j++ {
					if !math.IsNaN(float64(got[co*ld+j])) {
						t.Fatalf("%+v cout %d: wrote y[%d][%d], past the outputs", g, cout, co, j)
					}
					got[co*ld+j] = 0
					want[co*ld+j] = 0
				}
			}
			closeToScale(t, fmt.Sprintf("%+v cout %d", g, cout), got, want, 1e-5)
			for co := range cout { // every output: the taps summed in (c, ky, kx) order
				for p := range g.N * g.Pix {
					n, oy, ox := p/g.Pix, p%g.Pix/g.W, p%g.W
					inOrder(t, fmt.Sprintf("%+v cout %d: y[%d][%d]", g, cout, co, p), got[co*ld+p], 0, g.K, func(i int) (float32, float32) {
						c, ky, kx := i/9, i%9/3, i%3
						iy, ix := oy+ky-1, ox+kx-1
						if iy < 0 || iy >= g.H || ix < 0 || ix >= g.W {
							return w[co*g.K+i], 0
						}
						return w[co*g.K+i], x[((c*g.N+n)*g.H+iy)*g.W+ix]
					})
				}
			}
		}
	}
}

// TestPacked3x3TakesBN checks that the packed 3×3 convolution and its
// weight gradient, given a batch norm's map, give bit for bit the floats
// they give on the batch norm's output made first (scaleShift): what lets a
// dense layer skip writing bn2's output (convOp.forwardBN, weightGradBN).
func TestPacked3x3TakesBN(t *testing.T) { eachKernelPath(t, testPacked3x3TakesBN) }

func testPacked3x3TakesBN(t *testing.T) {
	pk := packedGEMM
	if pk == nil {
		t.Skip("no packed GEMM in this build")
	}
	rng := rand.New(rand.NewPCG(8, 8))
	for _, g := range []geom{newGeom(48, 2, 8, 8, 3, 3, 1, 1), newGeom(5, 3, 16, 16, 3, 3, 1, 1), newGeom(3, 2, 32, 32, 3, 3, 1, 1), newGeom(4, 2, 5, 7, 3, 3, 1, 1)} {
		for _, act := range []Act{ActReLU, ActNone} { // not GELU: convOp.takesBN
			name := fmt.Sprintf("%dx%dx%d%v", g.C, g.H, g.W, act)
			cout, per := 12, g.N*g.Pix
			x, w, dy := randSlice(rng, g.C*per), randSlice(rng, cout*g.K), randSlice(rng, cout*per)
			a, b := randSlice(rng, g.C), randSlice(rng, g.C) // about half of the outputs negative
			mapped := make([]float32, len(x))
			for c := range g.C {
				scaleShift(x[c*per:(c+1)*per], mapped[c*per:(c+1)*per], a[c], b[c], act)
			}
			ap := make([]float32, pk.sizeA(cout, g.K))
			pk.packA(w, cout, g.K, false, ap)
			want, got := make([]float32, cout*per), make([]float32, cout*per)
			pk.conv3x3(mapped, nil, nil, ActNone, ap, g, cout, 0, g.N, want, per)
			pk.conv3x3(x, a, b, act, ap, g, cout, 0, g.N, got, per)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s: y[%d] = %v mapping as it copies, %v on the mapped input", name, i, got[i], want[i])
				}
			}
			dwWant, dwGot := make([]float32, cout*g.K), make([]float32, cout*g.K)
			okWant := pk.weightGrad3x3(mapped, nil, nil, ActNone, dy, g, cout, 0, g.N, dwWant)
			okGot := pk.weightGrad3x3(x, a, b, act, dy, g, cout, 0, g.N, dwGot)
			if okWant != okGot {
				t.Fatalf("%s: the weight gradient handles the width %v mapped, %v not", name, okGot, okWant)
			}
			for i := range dwWant {
				if math.Float32bits(dwGot[i]) != math.Float32bits(dwWant[i]) {
					t.Fatalf("%s: dw[%d] = %v mapping as it copies, %v on the mapped input", name, i, dwGot[i], dwWant[i])
				}
			}
		}
	}
}
