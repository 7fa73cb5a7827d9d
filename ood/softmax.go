package ood

import (
	"context"
	"math"

	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"
)

// Predict runs env's model in evaluation mode over images.
func Predict(ctx context.Context, env *Env, images *loaders.Dataset, features bool) (*nets.Outputs, error) {
	return PredictWith(ctx, env, env.Model, images, features)
}

// PredictWith is Predict with another model (a fine-tuned copy).
func PredictWith(ctx context.Context, env *Env, m *nets.Model, images *loaders.Dataset, features bool) (*nets.Outputs, error) {
	return nets.Predict(ctx, m, images, env.Norm, nets.PredictOptions{Batch: env.Batch, Features: features, Progress: env.Progress})
}

// Softmax writes softmax(z/t) into p and returns log Σ exp(z/t), computed
// stably (the maximum is subtracted first).
func Softmax(z []float32, t float64, p []float64) float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, float64(v)/t)
	}
	var s float64
	for j, v := range z {
		p[j] = math.Exp(float64(v)/t - m)
		s += p[j]
	}
	for j := range p[:len(z)] {
		p[j] /= s
	}
	return m + math.Log(s)
}

// HeadSoftmax writes image i's class probabilities at temperature t into p:
// one head's softmax, or the average of the two heads' (nets.HeadsMean).
// scratch must hold Classes values.
func HeadSoftmax(out *nets.Outputs, i int, heads nets.HeadMode, t float64, p, scratch []float64) {
	switch heads {
	case nets.Head1:
		Softmax(out.Logits(0, i), t, p)
	case nets.Head2:
		Softmax(out.Logits(1, i), t, p)
	default:
		Softmax(out.Logits(0, i), t, p)
		Softmax(out.Logits(1, i), t, scratch)
		for k := range p[:out.Classes] {
			p[k] = (p[k] + scratch[k]) / 2
		}
	}
}

// MaxSoftmax is max_k of image i's class probabilities at temperature t.
func MaxSoftmax(out *nets.Outputs, i int, heads nets.HeadMode, t float64, p, scratch []float64) float64 {
	HeadSoftmax(out, i, heads, t, p, scratch)
	best := 0.0
	for _, v := range p[:out.Classes] {
		best = math.Max(best, v)
	}
	return best
}
