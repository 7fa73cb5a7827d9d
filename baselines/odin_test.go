package baselines

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/mcdood/mcdood/internal/numdiff"
	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/ood"
)

// ODIN's step follows the finite-difference gradient of log S_ŷ(x; T): on a
// small convolutional network, for the coordinates where the gradient is
// clearest, x̃ − x has the sign of ∂ log S_ŷ / ∂x and the size ε/std of the
// pixel's channel; and the whole step raises log S_ŷ (Liang et al., ICLR
// 2018, Eq. 2).
func TestODINPerturbationFollowsFiniteDifferences(t *testing.T) {
	const (
		batch = 2
		eps   = 0.002 // pixel units
		h     = 1e-2  // finite-difference step, normalised units
	)
	spec, err := nets.ParseSpec("small")
	if err != nil {
		t.Fatal(err)
	}
	m, err := nets.New(spec, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	norm := loaders.CIFARNormalization
	for _, c := range []struct {
		heads nets.HeadMode
		temp  float64
	}{{nets.Head1, 1}, {nets.HeadsMean, 10}, {nets.Head2, 1000}} {
		t.Run(c.heads.String(), func(t *testing.T) {
			eval, err := m.EvalProgram(batch)
			if err != nil {
				t.Fatal(err)
			}
			defer eval.Close()
			grad, err := m.InputGradProgram(batch, c.temp, c.heads)
			if err != nil {
				t.Fatal(err)
			}
			defer grad.Close()
			rng := rand.New(rand.NewPCG(7, 7))
			x := make([]float32, len(eval.Input()))
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			p, tmp := make([]float64, m.Classes), make([]float64, m.Classes)
			out := &nets.Outputs{Classes: m.Classes, N: batch}
			// logS returns Σ_i log S_ŷi(x_i; T) with the labels fixed at the
			// predictions for the clean images, and those predictions.
			var labels []int
			logS := func(in []float32) float64 {
				copy(eval.Input(), in)
				if err := eval.Run(); err != nil {
					t.Fatal(err)
				}
				out.Z1, out.Z2 = eval.Logits()
				sum := 0.0
				for i := range batch {
					ood.HeadSoftmax(out, i, c.heads, c.temp, p, tmp)
					if len(labels) < batch {
						labels = append(labels, nets.Argmax(p))
					}
					sum += math.Log(p[labels[i]])
				}
				return sum
			}
			before := logS(x)
			copy(grad.Input(), x)
			for i, y := range labels {
				grad.Labels()[i] = float32(y)
			}
			if err := grad.Run(); err != nil {
				t.Fatal(err)
			}
			g := grad.InputGrad()
			perturbed := make([]float32, len(x))
			odinPerturb(perturbed, x, g, eps, norm)

			// The 20 coordinates with the largest |gradient|.
			order := make([]int, len(g))
			for i := range order {
				order[i] = i
			}
			sort.Slice(order, func(a, b int) bool { return math.Abs(float64(g[order[a]])) > math.Abs(float64(g[order[b]])) })
			probe := append([]float32(nil), x...)
			const plane = nets.ImageSide * nets.ImageSide
			for _, j := range order[:20] {
				fd := numdiff.Central(func() float64 { return logS(probe) }, probe, j, h)
				step := float64(perturbed[j] - x[j])
				want := eps / float64(norm.Std[(j/plane)%nets.ImageChannels])
				if math.Abs(math.Abs(step)-want) > 1e-6 {
					t.Fatalf("coordinate %d: step %g, want ±%g (ε/std)", j, step, want)
				}
				if fd == 0 || math.Signbit(fd) != math.Signbit(step) {
					t.Fatalf("coordinate %d: step %g against d log S/dx = %g (finite difference), backprop gradient of −log S %g",
						j, step, fd, g[j])
				}
			}
			if after := logS(perturbed); !(after > before) {
				t.Errorf("the perturbation did not raise log S_ŷ: %g → %g", before, after)
			}
		})
	}
}

// ODIN's scores at ε > 0 are those of the perturbed images: for almost every
// image the step raises the largest softmax probability above its value on
// the clean image (ε = 0), and by more for a larger ε, on a small
// convolutional network at T = 1000; the memo hands out equal copies.
func TestODINScoresPerturb(t *testing.T) {
	spec, err := nets.ParseSpec("small")
	if err != nil {
		t.Fatal(err)
	}
	m, err := nets.New(spec, 10, 2)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 4))
	d := &loaders.Dataset{Name: "random", Pixels: make([]byte, 40*loaders.ImageBytes)}
	for i := range d.Pixels {
		d.Pixels[i] = byte(rng.IntN(256))
	}
	env := &ood.Env{Model: m, Norm: loaders.CIFARNormalization, Batch: 16, Memo: &ood.Memo{}}
	grid, err := odinScores(context.Background(), env, d, nets.Head1, []float64{1000}, []float64{0, 0.001, 0.004})
	if err != nil {
		t.Fatal(err)
	}
	scores := grid[0]
	up, upMore := 0, 0
	for i := range scores[0] {
		if scores[1][i] > scores[0][i] {
			up++
		}
		if scores[2][i] > scores[1][i] {
			upMore++
		}
	}
	if up < 36 || upMore < 36 {
		t.Errorf("the perturbation raised the score of %d (ε 0.001 over 0) and %d (0.004 over 0.001) of 40 images", up, upMore)
	}
	again, err := odinScores(context.Background(), env, d, nets.Head1, []float64{1000}, []float64{0.004})
	if err != nil {
		t.Fatal(err)
	}
	if &again[0][0][0] == &scores[2][0] || !slices.Equal(again[0][0], scores[2]) {
		t.Error("the memo does not hand out an equal copy")
	}
}
