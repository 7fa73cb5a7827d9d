package nets

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	G "gorgonia.org/gorgonia"
)

func init() {
	register(family{
		name: "airbench", form: "airbench-A-B-C", want: "airbench-WIDTH1-WIDTH2-WIDTH3", minArgs: 3, maxArgs: 3,
		doc:       "Jordan's airbench (2024) with block widths A, B, C: airbench-64-256-256 is airbench94's, airbench-64-128-128 airbench93's",
		parse:     func(s *Spec, n []int) string { s.Widths = [3]int{n[0], n[1], n[2]}; return "" },
		build:     func(s Spec) extractor { return airbench(s.Widths) },
		headScale: airbenchHeadScale, headNoBias: true,
		dataInit: initWhitening,
	})
}

// airbench is the network of Keller Jordan's airbench (2024; github
// KellerJordan/cifar10-airbench, airbench94.py and lib_airbench93.py), which
// reaches 94% CIFAR-10 accuracy in a few GPU-seconds, with block widths w:
//
//	whiten: 2×2 conv 3 → 24, no padding (31×31), fixed filters whitening
//	        the training images' 2×2 patches (initWhitening); bias, GELU
//	block k = 1, 2, 3 (width w[k]):
//	        3×3 conv, 2×2 max pool, BN, GELU, 3×3 conv, BN, GELU
//	        (31 → 15 → 7 → 3 pixels)
//	global max pool → w[2] features
//
// Its batch norms have no learned scale, eps 1e-12 and keep 0.6 of their
// running statistics per step; its convolutions start from PyTorch's
// default initialisation with the first filters the identity (dirac_: an
// implicit residual); its heads are bias-free linear layers times 1/9.
// airbench-64-256-256 is airbench94's network and airbench-64-128-128
// airbench93's; here each has two heads, as every network of the harness.
func airbench(w [3]int) extractor {
	return func(b *builder, x *G.Node) *G.Node {
		x = b.convWith("whiten", x, whitenFilters, whitenKernel, 1, 0, constInit(0), Frozen)
		x = b.bnWith("whiten", x, BNOptions{Act: ActGELU, ShiftOnly: true, ShiftRole: EarlyOnly})
		for k, width := range w {
			if b.err != nil {
				return nil
			}
			p := fmt.Sprintf("block%d", k+1)
			cin := x.Shape()[0]
			x = b.convWith(p+".conv1", x, width, 3, 1, 1, torchConvInit(width, cin, 3, true), Trained)
			x = b.maxPool(x)
			x = b.bnWith(p+".bn1", x, airbenchBN)
			x = b.convWith(p+".conv2", x, width, 3, 1, 1, torchConvInit(width, width, 3, true), Trained)
			x = b.bnWith(p+".bn2", x, airbenchBN)
		}
		return b.globalMaxPool(x)
	}
}

// airbench's batch norms: no learned scale, eps 1e-12, momentum 0.4
// (PyTorch's momentum, 1 − airbench's batchnorm_momentum 0.6).
var airbenchBN = BNOptions{Act: ActGELU, FixedScale: true, Eps: 1e-12, Momentum: 0.4}

const (
	airbenchHeadScale = 1.0 / 9 // airbench's scaling_factor
	whitenKernel      = 2
	whitenPatch       = ImageChannels * whitenKernel * whitenKernel // 12
	whitenFilters     = 2 * whitenPatch                             // each eigenvector and its negative
	// whitenImages and whitenEps are airbench's: the patches of the first
	// 5,000 training images, eigenvalues + 5e-4.
	whitenImages = 5000
	whitenEps    = 5e-4
)

// initWhitening sets airbench's whitening filters from the training images
// (airbench's init_whitening_conv): the eigenvectors v_k of the second-moment
// matrix of the 2×2 patches of the first 5,000 (normalised, unaugmented)
// images, largest eigenvalue λ_k first, scaled to v_k/√(λ_k + 5e-4), and
// their negatives; so the layer's outputs are whitened patches.
func initWhitening(m *Model, src Source) error {
	p, ok := m.byName["whiten.w"]
	if !ok {
		return fmt.Errorf("nets: %s has no whitening layer", m.Spec.Name)
	}
	n := min(src.Len(), whitenImages)
	if n == 0 {
		return fmt.Errorf("nets: whitening %s: no training images", m.Spec.Name)
	}
	var acc [whitenPatch][whitenPatch]float64 // Σ patch·patchᵀ, upper triangle
	const chunk = 250
	buf := make([]float32, chunk*ImageSize)
	idx := make([]int, chunk)
	var patch [whitenPatch]float64
	count := 0
	side := ImageSide - whitenKernel + 1
	for i0 := 0; i0 < n; i0 += chunk {
		k := min(chunk, n-i0)
		for j := range k {
			idx[j] = i0 + j
		}
		src.Fill(buf[:k*ImageSize], nil, idx[:k], nil, 0)
		for j := range k {
			img := buf[j*ImageSize : (j+1)*ImageSize]
			for oy := 0; oy < side; oy++ {
				for ox := 0; ox < side; ox++ {
					// Patch element (c, ky, kx), in the weights' layout.
					for c := range ImageChannels {
						for ky := range whitenKernel {
							for kx := range whitenKernel {
								patch[(c*whitenKernel+ky)*whitenKernel+kx] = float64(img[(c*ImageSide+oy+ky)*ImageSide+ox+kx])
							}
						}
					}
					for a := range whitenPatch {
						for b := a; b < whitenPatch; b++ {
							acc[a][b] += patch[a] * patch[b]
						}
					}
					count++
				}
			}
		}
	}
	cov := mat.NewSymDense(whitenPatch, nil)
	for a := range whitenPatch {
		for b := a; b < whitenPatch; b++ {
			cov.SetSym(a, b, acc[a][b]/float64(count))
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(cov, true) {
		return fmt.Errorf("nets: whitening %s: the patch covariance did not factorise", m.Spec.Name)
	}
	values := eig.Values(nil) // ascending
	var vectors mat.Dense
	eig.VectorsTo(&vectors)
	w := p.Data()
	for f := range whitenPatch {
		col := whitenPatch - 1 - f // largest first
		s := 1 / math.Sqrt(values[col]+whitenEps)
		for e := range whitenPatch {
			v := float32(vectors.At(e, col) * s)
			w[f*whitenPatch+e] = v
			w[(f+whitenPatch)*whitenPatch+e] = -v
		}
	}
	return nil
}
