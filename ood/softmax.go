package ood

import (
	"context"

	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"
)

// Predict runs env's model in evaluation mode over images.
func Predict(ctx context.Context, env *Env, images *loaders.Dataset, features bool) (*nets.Outputs, error) {
	return PredictWith(ctx, env, env.Model, images, features)
}

// PredictWith is Predict with another model (a fine-tuned copy).
func PredictWith(ctx context.Context, env *Env, m *nets.Model, images *loaders.Dataset, features bool) (*nets.Outputs, error) {
	return nets.Predict(ctx, m, loaders.Batches{Set: images, Norm: env.Norm}, nets.PredictOptions{Batch: env.Batch, Features: features, Progress: env.Progress})
}

// HeadSoftmax writes image i's class probabilities at temperature t into p:
// one head's softmax, or the average of the two heads' (nets.HeadsMean).
// scratch must hold Classes values.
func HeadSoftmax(out *nets.Outputs, i int, heads nets.HeadMode, t float64, p, scratch []float64) {
	switch heads {
	case nets.Head1:
		nets.Softmax(out.Logits(0, i), t, p)
	case nets.Head2:
		nets.Softmax(out.Logits(1, i), t, p)
	default:
		nets.Softmax(out.Logits(0, i), t, p)
		nets.Softmax(out.Logits(1, i), t, scratch)
		for k := range p[:out.Classes] {
			p[k] = (p[k] + scratch[k]) / 2
		}
	}
}

// MaxSoftmax is max_k of image i's class probabilities at temperature t.
func MaxSoftmax(out *nets.Outputs, i int, heads nets.HeadMode, t float64, p, scratch []float64) float64 {
	HeadSoftmax(out, i, heads, t, p, scratch)
	return p[nets.Argmax(p[:out.Classes])]
}
