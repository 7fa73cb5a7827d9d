package baselines

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/ood"
)

// MahalanobisConfig configures the Mahalanobis detector.
type MahalanobisConfig struct {
	// Ridge is added to the covariance diagonal, relative to its mean
	// variance, so that it can be inverted.
	Ridge float64 `toml:"ridge"`
}

func init() {
	ood.Register("mahalanobis", "Mahalanobis distance to class means, tied covariance, penultimate features (Lee et al., NeurIPS 2018)",
		MahalanobisConfig{Ridge: 1e-6}, func(c MahalanobisConfig) (ood.Detector, error) {
			if c.Ridge < 0 {
				return nil, fmt.Errorf("mahalanobis: ridge %v must not be negative", c.Ridge)
			}
			return &Mahalanobis{Ridge: c.Ridge}, nil
		})
}

// Mahalanobis scores an image by minus its smallest Mahalanobis distance to a
// class mean of the training features, with one covariance shared by all
// classes (Lee, Lee, Lee & Shin, "A Simple Unified Framework for Detecting
// Out-of-Distribution Samples and Adversarial Attacks", NeurIPS 2018). This
// is the paper's basic score on the penultimate (extractor) features, without
// its input pre-processing and its ensemble over layers.
type Mahalanobis struct {
	Ridge float64
	means *mat.Dense    // classes × F
	prec  *mat.SymDense // inverse shared covariance, F × F
}

// Prepare implements ood.Preparer: class means and tied covariance of the
// training set's features.
func (d *Mahalanobis) Prepare(ctx context.Context, env *ood.Env, data *ood.Data) error {
	if data.Train == nil || !data.Train.Labelled() {
		return fmt.Errorf("mahalanobis: needs the labelled training set")
	}
	out, err := ood.Predict(ctx, env, data.Train, true)
	if err != nil {
		return err
	}
	f, k := out.FeatureDim, out.Classes
	means := mat.NewDense(k, f, nil)
	counts := make([]float64, k)
	for i := 0; i < out.N; i++ {
		c := data.Train.Labels[i]
		counts[c]++
		row := means.RawRowView(c)
		for j, v := range out.Features[i*f : (i+1)*f] {
			row[j] += float64(v)
		}
	}
	for c := 0; c < k; c++ {
		if counts[c] == 0 {
			return fmt.Errorf("mahalanobis: class %d has no training images", c)
		}
		row := means.RawRowView(c)
		for j := range row {
			row[j] /= counts[c]
		}
	}
	centred := mat.NewDense(out.N, f, nil)
	for i := 0; i < out.N; i++ {
		mu := means.RawRowView(data.Train.Labels[i])
		row := centred.RawRowView(i)
		for j, v := range out.Features[i*f : (i+1)*f] {
			row[j] = float64(v) - mu[j]
		}
	}
	cov := mat.NewSymDense(f, nil)
	cov.SymOuterK(1/float64(out.N), centred.T())
	var trace float64
	for j := 0; j < f; j++ {
		trace += cov.At(j, j)
	}
	ridge := d.Ridge * math.Max(trace/float64(f), 1e-12)
	for j := 0; j < f; j++ {
		cov.SetSym(j, j, cov.At(j, j)+ridge)
	}
	var chol mat.Cholesky
	if !chol.Factorize(cov) {
		return fmt.Errorf("mahalanobis: feature covariance is not positive definite; raise ridge")
	}
	d.prec = mat.NewSymDense(f, nil)
	if err := chol.InverseTo(d.prec); err != nil {
		return fmt.Errorf("mahalanobis: inverting the covariance: %w", err)
	}
	d.means = means
	return nil
}

// Score implements ood.Detector: −min_c (f − μ_c)ᵀ Σ⁻¹ (f − μ_c).
func (d *Mahalanobis) Score(ctx context.Context, env *ood.Env, images *loaders.Dataset) ([]float64, error) {
	if d.prec == nil {
		return nil, fmt.Errorf("mahalanobis: Score before Prepare")
	}
	out, err := ood.Predict(ctx, env, images, true)
	if err != nil {
		return nil, err
	}
	f, k := out.FeatureDim, out.Classes
	diff := mat.NewVecDense(f, nil)
	tmp := mat.NewVecDense(f, nil)
	scores := make([]float64, out.N)
	for i := range scores {
		best := math.Inf(1)
		for c := 0; c < k; c++ {
			mu := d.means.RawRowView(c)
			for j, v := range out.Features[i*f : (i+1)*f] {
				diff.SetVec(j, float64(v)-mu[j])
			}
			tmp.MulVec(d.prec, diff)
			best = math.Min(best, mat.Dot(diff, tmp))
		}
		scores[i] = -best
	}
	return scores, nil
}
