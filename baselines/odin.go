package baselines

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/metrics"
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/ood"
)

// ODINConfig configures ODIN. With one temperature and one ε there is
// nothing to tune.
type ODINConfig struct {
	Heads        string    `toml:"heads"`        // head1, head2 or mean
	Temperatures []float64 `toml:"temperatures"` // grid for T
	Epsilons     []float64 `toml:"epsilons"`     // grid for ε, in pixel units ([0,1] scale)
}

// ODIN's published search grid (Liang et al., ICLR 2018, Sec. 4 and their
// code): T ∈ {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000} and 21 values of ε
// evenly spaced in [0, 0.004].
var (
	ODINTemperatures = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}
	ODINEpsilons     = linspace(0, 0.004, 21)
)

func linspace(a, b float64, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = a + (b-a)*float64(i)/float64(n-1)
	}
	return v
}

func init() {
	ood.Register("odin", "temperature scaling and input perturbation, tuned on OOD validation (Liang et al., ICLR 2018)",
		ODINConfig{Heads: "head1", Temperatures: ODINTemperatures, Epsilons: ODINEpsilons},
		func(c ODINConfig) (ood.Detector, error) {
			h, err := nets.ParseHeadMode(c.Heads)
			if err != nil {
				return nil, err
			}
			if len(c.Temperatures) == 0 || len(c.Epsilons) == 0 {
				return nil, fmt.Errorf("odin: temperatures and epsilons must not be empty")
			}
			for _, t := range c.Temperatures {
				if t <= 0 {
					return nil, fmt.Errorf("odin: temperature %v must be positive", t)
				}
			}
			for _, e := range c.Epsilons {
				if e < 0 {
					return nil, fmt.Errorf("odin: epsilon %v must not be negative", e)
				}
			}
			return &ODIN{Heads: h, Temperatures: c.Temperatures, Epsilons: c.Epsilons, T: c.Temperatures[0], Eps: c.Epsilons[0]}, nil
		})
}

// ODIN (Liang, Li & Srikant, "Enhancing the Reliability of Out-of-distribution
// Image Detection in Neural Networks", ICLR 2018) scores an image by the
// largest softmax probability at temperature T after a small step that
// raises it:
//
//	x̃ = x − ε·sign(∇ₓ[−log S_ŷ(x; T)]),   score = max_k S_k(x̃; T)
//
// where ŷ is the predicted class and sign(0) = +1, as in the authors' code.
// The step is taken in pixel units: on normalised inputs it is ε/std per
// channel. T and ε are chosen on the validation images (1,000 ID and 1,000
// OOD) by the lowest FPR at 95% TPR; ties keep the first pair in grid order.
type ODIN struct {
	Heads                  nets.HeadMode
	Temperatures, Epsilons []float64
	T, Eps                 float64 // the chosen pair
	valFPR                 float64
	tuned                  bool
}

// Prepare implements ood.Preparer: the grid search on validation images.
func (d *ODIN) Prepare(ctx context.Context, env *ood.Env, data *ood.Data) error {
	if len(d.Temperatures) == 1 && len(d.Epsilons) == 1 {
		return nil
	}
	if data.IDVal == nil || data.OODVal == nil {
		return fmt.Errorf("odin: tuning needs ID and OOD validation images")
	}
	idScores, err := odinScores(ctx, env, data.IDVal, d.Heads, d.Temperatures, d.Epsilons)
	if err != nil {
		return err
	}
	oodScores, err := odinScores(ctx, env, data.OODVal, d.Heads, d.Temperatures, d.Epsilons)
	if err != nil {
		return err
	}
	best := math.Inf(1)
	for j, t := range d.Temperatures {
		for k, eps := range d.Epsilons {
			fpr, err := metrics.FPRAtTPR(idScores[j][k], oodScores[j][k], metrics.TPRLevel)
			if err != nil {
				return fmt.Errorf("odin: T=%g ε=%g: %w", t, eps, err)
			}
			if fpr < best {
				best, d.T, d.Eps = fpr, t, eps
			}
		}
	}
	d.valFPR, d.tuned = best, true
	env.Logger().Info("odin tuned", "T", d.T, "epsilon", d.Eps, "val_fpr95", best)
	return nil
}

// Notes implements ood.Reporter.
func (d *ODIN) Notes() []ood.Note {
	notes := []ood.Note{{Key: "temperature", Value: strconv.FormatFloat(d.T, 'g', -1, 64)},
		{Key: "epsilon", Value: strconv.FormatFloat(d.Eps, 'g', -1, 64)}, {Key: "heads", Value: d.Heads.String()}}
	if d.tuned {
		notes = append(notes, ood.Note{Key: "tuned_on", Value: "1,000 ID + 1,000 OOD validation images (labelled OOD)"},
			ood.Note{Key: "val_fpr95", Value: strconv.FormatFloat(d.valFPR, 'f', 4, 64)})
	}
	return notes
}

// Score implements ood.Detector.
func (d *ODIN) Score(ctx context.Context, env *ood.Env, images *loaders.Dataset) ([]float64, error) {
	s, err := odinScores(ctx, env, images, d.Heads, []float64{d.T}, []float64{d.Eps})
	if err != nil {
		return nil, err
	}
	return s[0][0], nil
}

// odinKey names ODIN's scores of one image set in Env.Memo: tuning for
// every OOD set of a cell group repeats the ID validation images.
type odinKey struct {
	model  *nets.Model
	images *loaders.Dataset
	heads  nets.HeadMode
	t, eps float64
	score  string
}

// softmaxScore turns an image's class probabilities into a score: ODIN's is
// their maximum.
type softmaxScore struct {
	name string // the detector's, in Memo keys and progress lines
	f    func(p []float64) float64
}

var maxProbability = softmaxScore{"odin", func(p []float64) float64 { return p[ood.Argmax(p)] }}

// odinScores returns, for each temperature t and each ε, the ODIN scores
// of images: per batch one forward pass gives the logits from which every
// T's predicted labels and scores at ε = 0 follow, then for each T one
// input-gradient pass and one forward pass per ε > 0 on the perturbed
// images. Scores in env.Memo are reused (and copied, so that no caller
// shares a slice with another).
func odinScores(ctx context.Context, env *ood.Env, images *loaders.Dataset, heads nets.HeadMode, temps, epsilons []float64) ([][][]float64, error) {
	return perturbedScores(ctx, env, env.Model, images, heads, temps, epsilons, maxProbability)
}

// perturbedScores is odinScores with model m and a score of the perturbed
// images' softmax at T other than its maximum (ELOC's).
func perturbedScores(ctx context.Context, env *ood.Env, m *nets.Model, images *loaders.Dataset, heads nets.HeadMode, temps, epsilons []float64, score softmaxScore) ([][][]float64, error) {
	out := make([][][]float64, len(temps))
	type entry struct{ j, k int }
	var todo []entry
	for j, t := range temps {
		out[j] = make([][]float64, len(epsilons))
		for k, eps := range epsilons {
			if v, ok := env.Memo.Get(odinKey{m, images, heads, t, eps, score.name}); ok {
				out[j][k] = slices.Clone(v.([]float64))
			} else {
				todo = append(todo, entry{j, k})
			}
		}
	}
	if len(todo) == 0 {
		return out, nil
	}
	n := images.Len()
	batch := min(env.Batch, n)
	if batch <= 0 {
		batch = min(128, n)
	}
	grads := make([]*nets.Program, len(temps))
	for j, t := range temps {
		if !slices.ContainsFunc(todo, func(e entry) bool { return e.j == j && epsilons[e.k] > 0 }) {
			continue
		}
		g, err := m.InputGradProgram(batch, t, heads)
		if err != nil {
			return nil, err
		}
		defer g.Close()
		grads[j] = g
	}
	eval, err := m.EvalProgram(batch)
	if err != nil {
		return nil, err
	}
	defer eval.Close()
	for _, e := range todo {
		out[e.j][e.k] = make([]float64, n)
	}
	clean := make([]float32, batch*nets.ImageSize)
	cleanZ1, cleanZ2 := make([]float32, batch*m.Classes), make([]float32, batch*m.Classes)
	labels := make([][]float32, len(temps))
	for j := range labels {
		labels[j] = make([]float32, batch)
	}
	p, tmp := make([]float64, m.Classes), make([]float64, m.Classes)
	outs := &nets.Outputs{Classes: m.Classes, N: batch}
	idx := make([]int, batch)
	bar := env.Progress.Start(fmt.Sprintf("%s %s", score.name, images.Name), int64(n), "img")
	defer bar.Finish()
	for b0 := 0; b0 < n; b0 += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cnt := min(batch, n-b0)
		for i := range idx {
			idx[i] = b0 + min(i, cnt-1)
		}
		images.Fill(clean, nil, idx, env.Norm, nil, nil)
		// One clean forward pass serves every T: the predicted labels and
		// the scores without perturbation.
		copy(eval.Input(), clean)
		if err := eval.Run(); err != nil {
			return nil, err
		}
		z1, z2 := eval.Logits()
		copy(cleanZ1, z1)
		copy(cleanZ2, z2)
		outs.Z1, outs.Z2 = cleanZ1, cleanZ2
		for j, t := range temps {
			for i := 0; i < batch; i++ {
				// The label at T: with both heads averaged, the maximum of
				// the mean softmax can move with T.
				ood.HeadSoftmax(outs, i, heads, t, p, tmp)
				labels[j][i] = float32(ood.Argmax(p))
				if i >= cnt {
					continue
				}
				for _, e := range todo {
					if e.j == j && epsilons[e.k] == 0 {
						out[j][e.k][b0+i] = score.f(p)
					}
				}
			}
		}
		for j, grad := range grads {
			if grad == nil {
				continue
			}
			copy(grad.Input(), clean)
			copy(grad.Labels(), labels[j])
			if err := grad.Run(); err != nil {
				return nil, err
			}
			for _, e := range todo {
				if e.j != j || epsilons[e.k] == 0 {
					continue
				}
				odinPerturb(eval.Input(), clean, grad.InputGrad(), epsilons[e.k], env.Norm)
				if err := eval.Run(); err != nil {
					return nil, err
				}
				outs.Z1, outs.Z2 = eval.Logits()
				for i := 0; i < cnt; i++ {
					ood.HeadSoftmax(outs, i, heads, temps[j], p, tmp)
					out[j][e.k][b0+i] = score.f(p)
				}
			}
		}
		bar.Add(cnt)
	}
	for _, e := range todo {
		env.Memo.Put(odinKey{m, images, heads, temps[e.j], epsilons[e.k], score.name}, slices.Clone(out[e.j][e.k]))
	}
	return out, nil
}

// odinPerturb writes ODIN's perturbed batch into dst: x̃ = x − (ε/std_c)·s,
// where s = +1 where grad (the gradient of −log S_ŷ(x; T) with respect to
// the normalised input x) is ≥ 0 and −1 elsewhere, and std_c is the
// normalisation std of the pixel's channel, so that ε is in pixel units
// (Liang et al., ICLR 2018; the authors' code divides the signed gradient
// by the std the same way).
func odinPerturb(dst, x, grad []float32, eps float64, norm loaders.Normalization) {
	var step [nets.ImageChannels]float32
	for c := range step {
		step[c] = float32(eps) / norm.Std[c]
	}
	const plane = nets.ImageSide * nets.ImageSide
	for i, g := range grad[:len(x)] {
		s := step[(i/plane)%nets.ImageChannels]
		if g >= 0 {
			dst[i] = x[i] - s
		} else {
			dst[i] = x[i] + s
		}
	}
}
