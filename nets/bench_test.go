package nets

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func benchTrain(b *testing.B, name string, batch int) {
	p, err := newModel(b, name).TrainProgram(batch, 0)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	copy(p.Input(), randSlice(rng, len(p.Input())))
	for i := range p.Labels() {
		p.Labels()[i] = float32(rng.IntN(10))
	}
	opt := NewSGD(0.9, 1e-4, false)
	step := func() {
		if err := p.Run(); err != nil {
			b.Fatal(err)
		}
		if err := opt.Step(0.01, p.Params(), p.Grads()); err != nil {
			b.Fatal(err)
		}
	}
	step()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "img/s")
}

func benchInfer(b *testing.B, name string, batch int) {
	p, err := newModel(b, name).EvalProgram(batch)
	if err != nil {
		b.Fatal(err)
	}
	benchRuns(b, p, batch)
}

// benchRuns times p's passes of batch images after one warm-up pass.
func benchRuns(b *testing.B, p *Program, batch int) {
	if err := p.Run(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.Run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "img/s")
}

// benchInputGrad times ODIN's pass (Liang et al., 2018): the gradient of the
// temperature-scaled loss with respect to the input images, both heads, at
// the plans' default evaluation batch.
func benchInputGrad(b *testing.B, name string, batch int) {
	p, err := newModel(b, name).InputGradProgram(batch, 1000, HeadsMean)
	if err != nil {
		b.Fatal(err)
	}
	copy(p.Input(), randSlice(rand.New(rand.NewPCG(1, 1)), len(p.Input())))
	benchRuns(b, p, batch)
}

func BenchmarkTrainSmall(b *testing.B)    { benchTrain(b, "small", 128) }
func BenchmarkInferSmall(b *testing.B)    { benchInfer(b, "small", 128) }
func BenchmarkTrainDenseNet(b *testing.B) { benchTrain(b, "densenet-bc-100", 64) }
func BenchmarkInferDenseNet(b *testing.B) { benchInfer(b, "densenet-bc-100", 64) }

func BenchmarkTrainResNet9x16(b *testing.B) { benchTrain(b, "resnet9-16", 128) }

// Kernel benchmarks on a whole 128-image batch in the (C, N, H, W) layout,
// one thread, per image: the column matrices of small's two stride-2
// layers (built in the chunks the convolution uses) and its direct image
// layer with the batch norm fused in. In the cgo build each runs on the
// fastest paths and again on the portable C loops (eachKernelPath).

func benchIm2col(c, side int) func(b *testing.B) {
	return func(b *testing.B) {
		g := newGeom(c, 128, side, side, 3, 3, 2, 1)
		x := randSlice(rand.New(rand.NewPCG(1, 1)), g.C*g.N*g.H*g.W)
		step := chunkImages(g, evalMinCols)
		col := make([]float32, g.K*step*g.Pix)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for n0 := 0; n0 < g.N; n0 += step {
				im2col(x, g, n0, min(n0+step, g.N), col)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()*1e6/float64(b.N*g.N), "µs/img")
	}
}

func BenchmarkIm2colSmallConv2(b *testing.B) { eachKernelPath(b, benchIm2col(32, 32)) }
func BenchmarkIm2colSmallConv3(b *testing.B) { eachKernelPath(b, benchIm2col(64, 16)) }

func BenchmarkDirectConvSmallConv1(b *testing.B) {
	if conv3x3Direct == nil {
		b.Skip("no direct convolution in this build")
	}
	g := newGeom(3, 128, 32, 32, 3, 3, 1, 1)
	rng := rand.New(rand.NewPCG(1, 1))
	x, w := randSlice(rng, g.C*g.N*g.H*g.W), randSlice(rng, 32*g.K)
	a, s := randSlice(rng, 32), randSlice(rng, 32)
	y := make([]float32, 32*g.N*g.Pix)
	eachKernelPath(b, func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			conv3x3Direct(x, w, g, 32, 0, g.N, y, g.N*g.Pix, a, s, ActReLU)
		}
		b.ReportMetric(b.Elapsed().Seconds()*1e6/float64(b.N*g.N), "µs/img")
	})
}

func BenchmarkInferResNet9x16(b *testing.B) { benchInfer(b, "resnet9-16", 128) }

func BenchmarkInputGradResNet9x16(b *testing.B) { benchInputGrad(b, "resnet9-16", 256) }

// BenchmarkPackedPointwise times the packed GEMM's parts on a 1×1
// convolution of DenseNet-BC-100's second block (300 → 48 channels, a tile
// of 384 columns), one thread: packing the tile through a batch norm, and
// the multiplication (GFLOP/s), its outputs stored through the caches or
// past them, against the BLAS on an unpacked tile.
func BenchmarkPackedPointwise(b *testing.B) {
	pk := packedGEMM
	if pk == nil {
		b.Skip("no packed GEMM in this build")
	}
	m, k, n, ld := 48, 300, 384, 64*256
	rng := rand.New(rand.NewPCG(1, 1))
	x, w, a, bn := randSlice(rng, k*ld), randSlice(rng, m*k), randSlice(rng, k), randSlice(rng, k)
	y, in := alignedFloats(m*ld), make([]float32, k*n)
	gflops := func(b *testing.B) {
		b.ReportMetric(float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	}
	eachKernelPath(b, func(b *testing.B) {
		ap, bp := make([]float32, pk.sizeA(m, k)), make([]float32, pk.sizeB(n, k))
		pk.packA(w, m, k, false, ap)
		b.Run("pack", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				p0 := i * n % (ld - n)
				pk.packB(x, ld, k, p0, p0+n, a, bn, ActReLU, bp)
			}
		})
		for _, stream := range []bool{false, true} {
			name := "gemm"
			if stream {
				name = "gemm-streamed" // y past the caches
			}
			b.Run(name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					pk.gemm(ap, bp, m, n, k, y[i*n%(ld-n):], ld, stream)
				}
				gflops(b)
			})
		}
		b.Run("blas", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				sgemm(false, false, m, n, k, 1, w, k, in, n, 0, y[i*n%(ld-n):], ld)
			}
			gflops(b)
		})
	})
}

// BenchmarkPackedWeightGrad1x1 times the 1×1 weight gradient of a dense
// layer's bottleneck (48 outputs of 300 channels through bn1) over tiles of
// wgradTile columns, one thread, against the BLAS on the same normalised
// tile.
func BenchmarkPackedWeightGrad1x1(b *testing.B) {
	pk := packedGEMM
	if pk == nil {
		b.Skip("no packed GEMM in this build")
	}
	m, k, n, ld := 48, 300, wgradTile, 64*256
	rng := rand.New(rand.NewPCG(1, 1))
	x, dy, a, bn := randSlice(rng, k*ld), randSlice(rng, m*ld), randSlice(rng, k), randSlice(rng, k)
	dw, in := make([]float32, m*k), make([]float32, k*n)
	gflops := func(b *testing.B) {
		b.ReportMetric(float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	}
	eachKernelPath(b, func(b *testing.B) {
		t := make([]float32, pk.sizeT(m, k, n))
		b.Run("packed", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				p0 := i * n % (ld - n)
				pk.weightGrad1x1(dy, ld, m, x, ld, k, p0, p0+n, a, bn, ActReLU, t, dw)
			}
			gflops(b)
		})
		b.Run("blas", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				p0 := i * n % (ld - n)
				for r := range k {
					scaleShift(x[r*ld+p0:r*ld+p0+n], in[r*n:(r+1)*n], a[r], bn[r], ActReLU)
				}
				sgemm(false, true, m, k, n, 1, dy[p0:], ld, in, n, 1, dw, k)
			}
			gflops(b)
		})
	})
}

// BenchmarkPacked3x3 times the packed GEMM's 3×3 convolution and its
// weight gradient on DenseNet-BC's bottleneck shape (48 → 12 channels) at
// each block's image size, one thread.
func BenchmarkPacked3x3(b *testing.B) {
	pk := packedGEMM
	if pk == nil {
		b.Skip("no packed GEMM in this build")
	}
	for _, hw := range []int{32, 16, 8} {
		g := newGeom(48, 16, hw, hw, 3, 3, 1, 1)
		rng := rand.New(rand.NewPCG(1, 1))
		x, w, dy := randSlice(rng, g.C*g.N*g.H*g.W), randSlice(rng, 12*g.K), randSlice(rng, 12*g.N*g.Pix)
		y, dw := make([]float32, 12*g.N*g.Pix), make([]float32, 12*g.K)
		ap := make([]float32, pk.sizeA(12, g.K))
		for _, pass := range []string{"forward", "weight-gradient"} {
			b.Run(fmt.Sprintf("%dx%d/%s", hw, hw, pass), func(b *testing.B) {
				eachKernelPath(b, func(b *testing.B) {
					pk.packA(w, 12, g.K, false, ap) // the level's layout
					for i := 0; i < b.N; i++ {
						if pass == "forward" {
							pk.conv3x3(x, nil, nil, ActNone, ap, g, 12, 0, g.N, y, g.N*g.Pix)
						} else {
							pk.weightGrad3x3(x, nil, nil, ActNone, dy, g, 12, 0, g.N, dw)
						}
					}
					b.ReportMetric(float64(2*12*g.K*g.N*g.Pix)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			})
		}
	}
}
