package baselines

import (
	"context"

	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/ood"
)

// MSPConfig configures the maximum-softmax-probability baseline.
type MSPConfig struct {
	// Heads is head1, head2 or mean (the average of the two heads' softmax).
	Heads string `toml:"heads"`
}

func init() {
	ood.Register("msp", "maximum softmax probability (Hendrycks & Gimpel, ICLR 2017)",
		MSPConfig{Heads: "head1"}, func(c MSPConfig) (ood.Detector, error) {
			h, err := nets.ParseHeadMode(c.Heads)
			return &MSP{Heads: h}, err
		})
}

// MSP scores an image by its largest class probability (Hendrycks & Gimpel,
// "A Baseline for Detecting Misclassified and Out-of-Distribution Examples
// in Neural Networks", ICLR 2017).
type MSP struct {
	Heads nets.HeadMode
}

// Score implements ood.Detector.
func (d *MSP) Score(ctx context.Context, env *ood.Env, images *loaders.Dataset) ([]float64, error) {
	out, err := ood.Predict(ctx, env, images, false)
	if err != nil {
		return nil, err
	}
	p, tmp := make([]float64, out.Classes), make([]float64, out.Classes)
	scores := make([]float64, out.N)
	for i := range scores {
		scores[i] = ood.MaxSoftmax(out, i, d.Heads, 1, p, tmp)
	}
	return scores, nil
}
