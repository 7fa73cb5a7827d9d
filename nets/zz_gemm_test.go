//go:build dnnl && openblas && cgo

package nets

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkZZGemm(b *testing.B) {
	if err := dnnlInit(); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rnd := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
	for _, sh := range [][2]int{{48, 216}, {108, 216}, {150, 300}, {48, 120}} {
		m, c := sh[0], sh[1]
		T := pointwiseTile(c)
		np := 32768
		w, x, y := rnd(m*c), rnd(c*np), rnd(m*np)
		for _, impl := range []struct {
			name string
			f    func(bool, bool, int, int, int, float32, []float32, int, []float32, int, float32, []float32, int)
		}{{"openblas", sgemm}, {"dnnl", dnnlSgemm}} {
			b.Run(fmt.Sprintf("fwd/m%d/c%d/%s", m, c, impl.name), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					for p0 := 0; p0 < np; p0 += T {
						p1 := min(p0+T, np)
						impl.f(false, false, m, p1-p0, c, 1, w, c, x[p0:], np, 0, y[p0:], np)
					}
				}
				b.ReportMetric(2*float64(m)*float64(c)*float64(np)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
