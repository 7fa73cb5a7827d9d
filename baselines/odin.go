package baselines

import (
	"context"
	"fmt"
	"math"
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

// maxProbability is ODIN's score of the perturbed images' softmax: its
// maximum.
var maxProbability = softmaxScore{"odin", func(p []float64) float64 { return p[nets.Argmax(p)] }}

// odinScores returns, for each temperature t and each ε, the ODIN scores
// of images under env's model (perturb.go).
func odinScores(ctx context.Context, env *ood.Env, images *loaders.Dataset, heads nets.HeadMode, temps, epsilons []float64) ([][][]float64, error) {
	return perturbedScores(ctx, env, env.Model, images, heads, temps, epsilons, maxProbability)
}
