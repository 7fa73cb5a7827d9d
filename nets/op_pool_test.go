package nets

import (
	"math/rand"
	"testing"
)

// TestAvgPool2x2MatchesGeneral checks the 2×2, stride-2 fast paths against
// the general window loops, bit for bit.
func TestAvgPool2x2MatchesGeneral(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	const h, w = 6, 10
	oh, ow := h/2, w/2
	src := make([]float32, h*w)
	for i := range src {
		src[i] = rng.Float32()*2 - 1
	}
	got, want := make([]float32, oh*ow), make([]float32, oh*ow)
	avgPool2x2(src, got, w, oh, ow, 0.25)
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			var s float32
			for ky := 0; ky < 2; ky++ {
				for kx := 0; kx < 2; kx++ {
					s += src[(2*oy+ky)*w+2*ox+kx]
				}
			}
			want[oy*ow+ox] = s * 0.25
		}
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("forward output %d: %v, general loop %v", i, got[i], want[i])
		}
	}
	dx, wantDx := make([]float32, h*w), make([]float32, h*w)
	for i := range dx {
		dx[i] = 9 // overwritten everywhere
	}
	avgPool2x2Grad(want, dx, w, oh, ow, 0.25)
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			for ky := 0; ky < 2; ky++ {
				for kx := 0; kx < 2; kx++ {
					wantDx[(2*oy+ky)*w+2*ox+kx] += want[oy*ow+ox] * 0.25
				}
			}
		}
	}
	for i := range wantDx {
		if dx[i] != wantDx[i] {
			t.Fatalf("gradient %d: %v, general loop %v", i, dx[i], wantDx[i])
		}
	}
}
