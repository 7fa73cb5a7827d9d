package baselines

import (
	"context"
	"fmt"

	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/ood"
)

// EnergyConfig configures the energy score.
type EnergyConfig struct {
	Heads       string  `toml:"heads"`       // head1, head2, or mean (the average of the two heads' scores)
	Temperature float64 `toml:"temperature"` // T; Liu et al. use 1
}

func init() {
	ood.Register("energy", "negative free energy T·logΣexp(z/T) (Liu et al., NeurIPS 2020)",
		EnergyConfig{Heads: "head1", Temperature: 1}, func(c EnergyConfig) (ood.Detector, error) {
			h, err := nets.ParseHeadMode(c.Heads)
			if err == nil && c.Temperature <= 0 {
				err = fmt.Errorf("energy: temperature %v must be positive", c.Temperature)
			}
			return &Energy{Heads: h, T: c.Temperature}, err
		})
}

// Energy scores an image by its negative free energy T·log Σ_k exp(z_k/T)
// (Liu, Wang, Owens & Li, "Energy-based Out-of-distribution Detection",
// NeurIPS 2020): large for confident in-distribution logits.
type Energy struct {
	Heads nets.HeadMode
	T     float64
}

// Score implements ood.Detector.
func (d *Energy) Score(ctx context.Context, env *ood.Env, images *loaders.Dataset) ([]float64, error) {
	out, err := ood.Predict(ctx, env, images, false)
	if err != nil {
		return nil, err
	}
	p := make([]float64, out.Classes)
	scores := make([]float64, out.N)
	for i := range scores {
		switch d.Heads {
		case nets.Head1:
			scores[i] = d.T * nets.Softmax(out.Logits(0, i), d.T, p)
		case nets.Head2:
			scores[i] = d.T * nets.Softmax(out.Logits(1, i), d.T, p)
		default:
			scores[i] = d.T * (nets.Softmax(out.Logits(0, i), d.T, p) + nets.Softmax(out.Logits(1, i), d.T, p)) / 2
		}
	}
	return scores, nil
}
