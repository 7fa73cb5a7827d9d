package mcd

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/ood"
)

// MCD needs a network with two classifier heads pre-trained together (the
// authors pre-train their own two-head DenseNet and WRN, whose files are not
// obtainable). A published network has one head; Config.Head2 says how the
// second is made before fine-tuning:
//
//	pretrained  the network's own head 2 (networks pre-trained here train
//	            both heads, as the authors; for a published one-head network
//	            the runner has made head 2 a copy of head 1)
//	copy        head 2 = head 1: the heads start identical, so Step B's
//	            entropy gap starts at 0 and only fine-tuning separates them
//	fit         a new linear head fitted on the frozen features of the
//	            labelled images: multinomial logistic regression from
//	            PyTorch's default initialisation drawn with the cell's seed,
//	            trained with PyTorch's SGD at the constants below for
//	            Head2Epochs epochs (each a pass over the labelled images in
//	            a new order, the last incomplete batch dropped) — a head
//	            trained like head 1 but from other initial weights and with
//	            the extractor frozen: our stand-in for the authors' jointly
//	            pre-trained second head (a deviation; README, "The published
//	            network")
const (
	Head2Pretrained = "pretrained"
	Head2Copy       = "copy"
	Head2Fit        = "fit"
)

// The optimiser of Head2Fit: the fine-tuning's default momentum and weight
// decay (Defaults), and lr 0.1 with batches of 128, which fits a softmax
// regression on DenseNet-BC-100's 342 features in a few epochs.
const (
	head2LR       = 0.1
	head2Batch    = 128
	head2Momentum = 0.9
	head2Decay    = 1e-4
)

// head2Features names the frozen features of a labelled set in env.Memo:
// every MCD cell of a network fits its head 2 on the same ones.
type head2Features struct {
	model  *nets.Model
	images *loaders.Dataset
}

// makeHead2 sets model's head 2 as cfg.Head2 says, before fine-tuning; it
// returns head 2's accuracy on the labelled images (NaN when not fitted).
func makeHead2(ctx context.Context, env *ood.Env, model *nets.Model, train *loaders.Dataset, cfg Config) (float64, error) {
	switch cfg.Head2 {
	case Head2Pretrained, "":
		return math.NaN(), nil
	case Head2Copy:
		return math.NaN(), model.CopyHead(1, 2)
	}
	if train.Len() < head2Batch {
		return 0, fmt.Errorf("mcd: head2 = fit needs at least %d labelled images, got %d", head2Batch, train.Len())
	}
	// The extractor is the environment model's until fine-tuning starts,
	// so its features serve every cell.
	var out *nets.Outputs
	if v, ok := env.Memo.Get(head2Features{env.Model, train}); ok {
		out = v.(*nets.Outputs)
	} else {
		var err error
		if out, err = ood.PredictWith(ctx, env, model, train, true); err != nil {
			return 0, fmt.Errorf("mcd: features for head 2: %w", err)
		}
		env.Memo.Put(head2Features{env.Model, train}, out)
	}
	w, b := make([]float32, out.Classes*out.FeatureDim), make([]float32, out.Classes)
	acc := fitSoftmaxRegression(out.Features, train.Labels, out.FeatureDim, out.Classes, cfg.Head2Epochs,
		rand.New(rand.NewPCG(env.Seed, 0x68656164)), w, b)
	if err := model.SetHead(2, w, b); err != nil {
		return 0, fmt.Errorf("mcd: head2 = fit: %w", err)
	}
	env.Logger().Info("mcd head 2 fitted on frozen features", "images", train.Len(), "epochs", cfg.Head2Epochs, "train_accuracy", acc)
	return acc, nil
}

// fitSoftmaxRegression fits z = W·f + b to labels by SGD on the mean
// cross-entropy, W (classes × dim) and b initialised as PyTorch's nn.Linear
// (U(±1/√dim)) from rng, and returns the accuracy on the features after the
// last epoch. Features are n × dim, row-major.
func fitSoftmaxRegression(features []float32, labels []int, dim, classes, epochs int, rng *rand.Rand, w, b []float32) float64 {
	n := len(labels)
	bound := 1 / math.Sqrt(float64(dim))
	W, B := make([]float64, classes*dim), make([]float64, classes)
	for i := range W {
		W[i] = (2*rng.Float64() - 1) * bound
	}
	for i := range B {
		B[i] = (2*rng.Float64() - 1) * bound
	}
	vW, vB := make([]float64, len(W)), make([]float64, len(B))
	gW, gB := make([]float64, len(W)), make([]float64, len(B))
	z := make([]float64, classes)
	logits := func(i int) {
		f := features[i*dim : (i+1)*dim]
		for k := range classes {
			s := B[k]
			row := W[k*dim : (k+1)*dim]
			for j, x := range f {
				s += row[j] * float64(x)
			}
			z[k] = s
		}
	}
	for range epochs {
		order := rng.Perm(n)
		for b0 := 0; b0+head2Batch <= n; b0 += head2Batch {
			clear(gW)
			clear(gB)
			for _, i := range order[b0 : b0+head2Batch] {
				logits(i)
				softmaxInPlace(z)
				z[labels[i]]--
				f := features[i*dim : (i+1)*dim]
				for k, dk := range z {
					gB[k] += dk / head2Batch
					row := gW[k*dim : (k+1)*dim]
					for j, x := range f {
						row[j] += dk * float64(x) / head2Batch
					}
				}
			}
			// PyTorch's SGD: g += wd·θ; v = μ·v + g; θ −= lr·v.
			for i := range W {
				vW[i] = head2Momentum*vW[i] + gW[i] + head2Decay*W[i]
				W[i] -= head2LR * vW[i]
			}
			for i := range B {
				vB[i] = head2Momentum*vB[i] + gB[i] + head2Decay*B[i]
				B[i] -= head2LR * vB[i]
			}
		}
	}
	right := 0
	for i := range n {
		logits(i)
		best := 0
		for k := range z {
			if z[k] > z[best] {
				best = k
			}
		}
		if best == labels[i] {
			right++
		}
	}
	for i := range W {
		w[i] = float32(W[i])
	}
	for i := range B {
		b[i] = float32(B[i])
	}
	return float64(right) / float64(n)
}

// softmaxInPlace replaces z by softmax(z).
func softmaxInPlace(z []float64) {
	m := z[0]
	for _, v := range z {
		m = max(m, v)
	}
	var s float64
	for i, v := range z {
		z[i] = math.Exp(v - m)
		s += z[i]
	}
	for i := range z {
		z[i] /= s
	}
}
