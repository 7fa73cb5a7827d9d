// Package mcd implements Maximum Classifier Discrepancy for unsupervised
// out-of-distribution detection (Yu & Aizawa, "Unsupervised Out-of-
// Distribution Detection by Maximum Classifier Discrepancy", ICCV 2019),
// following the authors' code (GitHub YU1ut/UOOD-MCD, solver.py and
// train.py): a two-head network pre-trained on labelled in-distribution data
// is fine-tuned so that its heads agree on in-distribution images and
// disagree on the out-of-distribution images of an unlabelled pool; an
// image's score is minus the L1 distance between the heads' softmax outputs.
//
// The whole method is here: the two steps in steps.go (written with the
// engine's graph pieces, package nets), the fine-tuning loop and the score
// in finetune.go, the detector in detector.go.
package mcd

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/metrics"
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/ood"
)

// Config is the fine-tuning recipe. Defaults follows the authors' train.py.
type Config struct {
	Epochs          int     `toml:"epochs"`           // fine-tuning epochs
	LR              float64 `toml:"lr"`               // constant learning rate
	Momentum        float64 `toml:"momentum"`         // SGD momentum
	WeightDecay     float64 `toml:"weight_decay"`     // L2 weight decay
	Batch           int     `toml:"batch"`            // labelled images per step
	UnlabelledBatch int     `toml:"unlabelled_batch"` // unlabelled images per step
	Margin          float64 `toml:"margin"`           // m in max(0, m − (H̄1 − H̄2))
	// StepsPerEpoch is the number of labelled batches per epoch; 0 means one
	// pass over the labelled training set, as the authors do.
	StepsPerEpoch int `toml:"steps_per_epoch"`
	// Selection picks the model that is scored: "val-auroc" keeps the epoch
	// with the best AUROC on the ID and OOD validation images (the authors'
	// choice, which uses labelled OOD images), "last" keeps the last epoch.
	Selection string `toml:"selection"`
	// Augment applies the crop-and-flip augmentation to labelled batches;
	// the authors fine-tune without it.
	Augment bool `toml:"augment"`
}

// Defaults is the authors' fine-tuning recipe: 10 epochs of SGD at lr 0.01,
// momentum 0.9, weight decay 1e-4, batches of 128 labelled and 128
// unlabelled images, m = 1.2, best epoch by validation AUROC.
var Defaults = Config{Epochs: 10, LR: 0.01, Momentum: 0.9, WeightDecay: 1e-4, Batch: 128, UnlabelledBatch: 128,
	Margin: 1.2, Selection: "val-auroc"}

// Validate checks a configuration.
func (c Config) Validate() error {
	switch {
	case c.Epochs < 1:
		return fmt.Errorf("mcd: epochs = %d, want ≥ 1", c.Epochs)
	case c.LR <= 0 || c.Momentum < 0 || c.WeightDecay < 0:
		return fmt.Errorf("mcd: lr %v, momentum %v, weight_decay %v: want lr > 0 and the others ≥ 0", c.LR, c.Momentum, c.WeightDecay)
	case c.Batch < 1 || c.UnlabelledBatch < 1:
		return fmt.Errorf("mcd: batch %d, unlabelled_batch %d: want ≥ 1", c.Batch, c.UnlabelledBatch)
	case c.Margin <= 0:
		return fmt.Errorf("mcd: margin %v, want > 0", c.Margin)
	case c.StepsPerEpoch < 0:
		return fmt.Errorf("mcd: steps_per_epoch %d, want ≥ 0", c.StepsPerEpoch)
	case c.Selection != "val-auroc" && c.Selection != "last":
		return fmt.Errorf("mcd: selection %q, want val-auroc or last", c.Selection)
	}
	return nil
}

// Epoch is one line of the fine-tuning history.
type Epoch struct {
	Epoch       int     `json:"epoch"`
	CE1         float64 `json:"ce1"`
	CE2         float64 `json:"ce2"`
	Discrepancy float64 `json:"discrepancy_loss"` // mean of max(0, m − (H̄1 − H̄2)) over the epoch
	ValAUROC    float64 `json:"val_auroc"`        // NaN without validation images
	Seconds     float64 `json:"seconds"`
}

// FineTune runs MCD fine-tuning on a copy of m and returns the selected
// model and the per-epoch history. Every labelled batch is followed by
// Step A (cross-entropy on both heads, head 2 on detached features) and
// Step B (the same cross-entropies plus the discrepancy loss on the next
// unlabelled batch); both update all parameters, with one SGD state. The
// unlabelled pool is reshuffled each time it is exhausted, as the authors'
// loader iterator. The last incomplete labelled batch is dropped.
func FineTune(ctx context.Context, env *ood.Env, m *nets.Model, data *ood.Data, cfg Config) (*nets.Model, []Epoch, int, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, 0, err
	}
	if data.Train == nil || !data.Train.Labelled() || data.Unlabelled == nil || data.Unlabelled.Len() < cfg.UnlabelledBatch {
		return nil, nil, 0, fmt.Errorf("mcd: fine-tuning needs the labelled training set and at least %d unlabelled images", cfg.UnlabelledBatch)
	}
	validate := cfg.Selection == "val-auroc"
	if validate && (data.IDVal == nil || data.OODVal == nil) {
		return nil, nil, 0, fmt.Errorf("mcd: selection val-auroc needs ID and OOD validation images")
	}
	log := env.Logger()
	model := m.Clone()
	stepA, err := newStepA(model, cfg.Batch)
	if err != nil {
		return nil, nil, 0, err
	}
	defer stepA.Close()
	stepB, err := newStepB(model, cfg.Batch, cfg.UnlabelledBatch, cfg.Margin)
	if err != nil {
		return nil, nil, 0, err
	}
	defer stepB.Close()
	opt := nets.NewSGD(cfg.Momentum, cfg.WeightDecay, false)

	train, pool := data.Train, data.Unlabelled
	steps := cfg.StepsPerEpoch
	if steps == 0 {
		steps = train.Len() / cfg.Batch
	}
	var aug *loaders.Augmentation
	if cfg.Augment {
		aug = &loaders.StandardAugmentation
	}
	labels := make([]int, cfg.Batch)
	var poolOrder []int
	poolPos, poolCycle := 0, 0
	nextUnlabelled := func() []int {
		if poolPos+cfg.UnlabelledBatch > len(poolOrder) {
			poolOrder = rand.New(rand.NewPCG(env.Seed^0x6d6364, uint64(poolCycle))).Perm(pool.Len())
			poolCycle++
			poolPos = 0
		}
		idx := poolOrder[poolPos : poolPos+cfg.UnlabelledBatch]
		poolPos += cfg.UnlabelledBatch
		return idx
	}
	var trainOrder []int
	trainPos, trainCycle := 0, 0
	nextLabelled := func() []int {
		if trainPos+cfg.Batch > len(trainOrder) {
			trainOrder = rand.New(rand.NewPCG(env.Seed, uint64(trainCycle))).Perm(train.Len())
			trainCycle++
			trainPos = 0
		}
		idx := trainOrder[trainPos : trainPos+cfg.Batch]
		trainPos += cfg.Batch
		return idx
	}
	augRNG := rand.New(rand.NewPCG(env.Seed, 0xa06))

	var history []Epoch
	best, bestEpoch, bestAUROC := model.Clone(), 0, math.Inf(-1)
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		t0 := time.Now()
		bar := env.Progress.Start(fmt.Sprintf("mcd fine-tune epoch %d/%d", epoch, cfg.Epochs), int64(steps), "step")
		var sums [3]float64
		for s := 0; s < steps; s++ {
			if err := ctx.Err(); err != nil {
				bar.Finish()
				return nil, nil, 0, err
			}
			idx := nextLabelled()
			// Step A.
			xa, ya := stepA.Data(stepA.x), stepA.Data(stepA.y)
			train.Fill(xa, labels, idx, env.Norm, aug, augRNG)
			for i, l := range labels {
				ya[i] = float32(l)
			}
			if err := stepA.Run(); err != nil {
				bar.Finish()
				return nil, nil, 0, fmt.Errorf("mcd step A, epoch %d, step %d: %w", epoch, s+1, err)
			}
			if err := opt.Step(cfg.LR, stepA.Params(), stepA.Grads()); err != nil {
				return nil, nil, 0, err
			}
			// Step B: the same labelled batch (the same augmented images, as
			// the authors' data_s), recomputed with the updated weights, and
			// the next unlabelled batch.
			copy(stepB.Data(stepB.x), xa)
			copy(stepB.Data(stepB.y), ya)
			pool.Fill(stepB.Data(stepB.u), nil, nextUnlabelled(), env.Norm, nil, nil)
			if err := stepB.Run(); err != nil {
				bar.Finish()
				return nil, nil, 0, fmt.Errorf("mcd step B, epoch %d, step %d: %w", epoch, s+1, err)
			}
			if err := opt.Step(cfg.LR, stepB.Params(), stepB.Grads()); err != nil {
				return nil, nil, 0, err
			}
			parts := stepB.losses()
			for i := range sums {
				sums[i] += parts[i]
			}
			bar.Add(1)
			if s%10 == 0 {
				bar.Describe(fmt.Sprintf("mcd fine-tune epoch %d/%d discrepancy loss %.3f", epoch, cfg.Epochs, sums[2]/float64(s+1)))
			}
		}
		bar.Finish()
		e := Epoch{Epoch: epoch, CE1: sums[0] / float64(steps), CE2: sums[1] / float64(steps), Discrepancy: sums[2] / float64(steps), ValAUROC: math.NaN()}
		if validate {
			id, err := Discrepancy(ctx, env, model, data.IDVal)
			if err != nil {
				return nil, nil, 0, err
			}
			out, err := Discrepancy(ctx, env, model, data.OODVal)
			if err != nil {
				return nil, nil, 0, err
			}
			r, err := metrics.Compute(id, out)
			if err != nil {
				return nil, nil, 0, fmt.Errorf("mcd: validation AUROC: %w", err)
			}
			e.ValAUROC = r.AUROC
		}
		e.Seconds = time.Since(t0).Seconds()
		history = append(history, e)
		log.Info("mcd epoch", "epoch", epoch, "ce1", e.CE1, "ce2", e.CE2, "discrepancy_loss", e.Discrepancy, "val_auroc", e.ValAUROC, "seconds", e.Seconds)
		// The authors keep an epoch when its validation AUROC beats every
		// earlier one (solver.val: prec > best_prec1).
		if !validate || e.ValAUROC > bestAUROC {
			best, bestEpoch, bestAUROC = model.Clone(), epoch, e.ValAUROC
		}
	}
	return best, history, bestEpoch, nil
}

// Discrepancy scores images with a two-head model: −Σ_k |p1_k − p2_k|, minus
// the L1 distance between the heads' softmax outputs (the paper's OOD score,
// negated so that higher means in-distribution).
func Discrepancy(ctx context.Context, env *ood.Env, m *nets.Model, images *loaders.Dataset) ([]float64, error) {
	out, err := ood.PredictWith(ctx, env, m, images, false)
	if err != nil {
		return nil, err
	}
	p1, p2 := make([]float64, out.Classes), make([]float64, out.Classes)
	scores := make([]float64, out.N)
	for i := range scores {
		nets.Softmax(out.Logits(0, i), 1, p1)
		nets.Softmax(out.Logits(1, i), 1, p2)
		var d float64
		for k := range p1 {
			d += math.Abs(p1[k] - p2[k])
		}
		scores[i] = -d
	}
	return scores, nil
}
