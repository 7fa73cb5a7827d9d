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
// in finetune.go, its checkpoints (resuming a killed fine-tuning) in
// checkpoint.go, the detector in detector.go.
package mcd

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
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
	// choice, which uses labelled OOD images); the label-free rules keep the
	// last epoch ("last"), or the epoch whose heads disagree most on
	// unlabelled images held out of the pool ("heldout-gap": the largest
	// H̄(p1) − H̄(p2) there, Step B's objective, on HeldOut images drawn from
	// the pool and not fine-tuned on).
	Selection string `toml:"selection"`
	// HeldOut is how many pool images "heldout-gap" holds out (default 1,000).
	HeldOut int `toml:"held_out"`
	// Augment applies the crop-and-flip augmentation to labelled batches;
	// the authors fine-tune without it.
	Augment bool `toml:"augment"`
	// Train says what the steps update: "all" (both steps, every
	// parameter, as the authors), "heads-in-b" (Step B updates the heads
	// only), "heads" (the extractor stays as pre-trained; both steps train
	// the heads only).
	Train string `toml:"train"`
	// PoolSampling draws the unlabelled batches: "uniform" (each pass over
	// the pool in a new random order, as the authors) or "discrepancy"
	// (with replacement, each image with probability proportional to its
	// discrepancy under the current model plus a floor of a tenth of the
	// mean, scored again every epoch: a label-free way to give a pool that
	// is mostly ID more OOD images per batch).
	PoolSampling string `toml:"pool_sampling"`
	// Head2 says how head 2 is made before fine-tuning: "pretrained" (the
	// network's own, the authors' two-head pre-training), "copy" (head 1's
	// weights) or "fit" (a new head fitted on the frozen features of the
	// labelled images with the cell's seed): see head2.go. A published
	// network has one head, so it needs copy or fit.
	Head2 string `toml:"head2" json:",omitempty"`
	// Head2Epochs is how many epochs head2 = "fit" trains (default 10).
	Head2Epochs int `toml:"head2_epochs" json:",omitempty"`
	// CheckpointEvery, when positive, also checkpoints the fine-tuning
	// every that many steps (counted from its first), for cells whose
	// epochs are long; the end of every epoch is checkpointed anyway. It
	// takes effect only when the environment names a checkpoint file
	// (ood.Env.Checkpoint; checkpoint.go). It changes no result, so it is
	// left out of the configuration's JSON: out of cell keys and records.
	CheckpointEvery int `toml:"checkpoint_every" json:"-"`
}

// Defaults is the authors' fine-tuning recipe: 10 epochs of SGD at lr 0.01,
// momentum 0.9, weight decay 1e-4, batches of 128 labelled and 128
// unlabelled images, m = 1.2, best epoch by validation AUROC.
var Defaults = Config{Epochs: 10, LR: 0.01, Momentum: 0.9, WeightDecay: 1e-4, Batch: 128, UnlabelledBatch: 128,
	Margin: 1.2, Selection: "val-auroc", HeldOut: 1000, Train: "all", PoolSampling: "uniform"}

// DefaultHead2Epochs is Config.Head2Epochs when left out.
const DefaultHead2Epochs = 10

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
	case c.Selection != "val-auroc" && c.Selection != "last" && c.Selection != "heldout-gap":
		return fmt.Errorf("mcd: selection %q, want val-auroc, last or heldout-gap", c.Selection)
	case c.Selection == "heldout-gap" && c.HeldOut < 1:
		return fmt.Errorf("mcd: held_out %d, want ≥ 1 for selection heldout-gap", c.HeldOut)
	case c.Train != "all" && c.Train != "heads-in-b" && c.Train != "heads":
		return fmt.Errorf("mcd: train %q, want all, heads-in-b or heads", c.Train)
	case c.PoolSampling != "uniform" && c.PoolSampling != "discrepancy":
		return fmt.Errorf("mcd: pool_sampling %q, want uniform or discrepancy", c.PoolSampling)
	case c.Head2 != "" && c.Head2 != Head2Pretrained && c.Head2 != Head2Copy && c.Head2 != Head2Fit:
		return fmt.Errorf("mcd: head2 %q, want pretrained, copy or fit", c.Head2)
	case c.Head2Epochs < 0 || (c.Head2 != Head2Fit && c.Head2Epochs != 0):
		return fmt.Errorf("mcd: head2_epochs %d: want ≥ 1 (left out: %d), and only with head2 = \"fit\"", c.Head2Epochs, DefaultHead2Epochs)
	case c.CheckpointEvery < 0:
		return fmt.Errorf("mcd: checkpoint_every %d, want ≥ 0 (0: at the end of each epoch only)", c.CheckpointEvery)
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
	HeldOutGap  float64 `json:"heldout_gap"`      // H̄1 − H̄2 on the held-out pool images (NaN unless heldout-gap)
	Seconds     float64 `json:"seconds"`
}

// FineTune runs MCD fine-tuning on a copy of m and returns the selected
// model and the per-epoch history. Every labelled batch is followed by
// Step A (cross-entropy on both heads, head 2 on detached features) and
// Step B (the same cross-entropies plus the discrepancy loss on the next
// unlabelled batch); both update all parameters, with one SGD state. The
// unlabelled pool is reshuffled each time it is exhausted, as the authors'
// loader iterator. The last incomplete labelled batch is dropped.
//
// With env.Checkpoint set, the state is checkpointed at the end of every
// epoch (and every cfg.CheckpointEvery steps) and resumed from that file,
// with the result of an uninterrupted run (checkpoint.go).
func FineTune(ctx context.Context, env *ood.Env, m *nets.Model, data *ood.Data, cfg Config) (*nets.Model, []Epoch, int, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, 0, err
	}
	if data.Train == nil || !data.Train.Labelled() || data.Unlabelled == nil || data.Unlabelled.Len() < cfg.UnlabelledBatch {
		return nil, nil, 0, fmt.Errorf("mcd: fine-tuning needs the labelled training set and at least %d unlabelled images", cfg.UnlabelledBatch)
	}
	// The paper's selection needs the validation images; the history has
	// their AUROC by epoch whenever they are there.
	if cfg.Selection == "val-auroc" && (data.IDVal == nil || data.OODVal == nil) {
		return nil, nil, 0, fmt.Errorf("mcd: selection val-auroc needs ID and OOD validation images")
	}
	validate := data.IDVal != nil && data.OODVal != nil
	log := env.Logger()
	if cfg.Head2 == Head2Fit && cfg.Head2Epochs == 0 {
		cfg.Head2Epochs = DefaultHead2Epochs
	}
	train, pool := data.Train, data.Unlabelled
	var heldOut *loaders.Dataset
	if cfg.Selection == "heldout-gap" {
		if pool.Len()-cfg.HeldOut < cfg.UnlabelledBatch {
			return nil, nil, 0, fmt.Errorf("mcd: holding out %d of %d pool images leaves fewer than a batch", cfg.HeldOut, pool.Len())
		}
		order := rand.New(rand.NewPCG(env.Seed^0x686f6c64, 0)).Perm(pool.Len())
		heldOut, pool = pool.Subset("held-out pool", order[:cfg.HeldOut]), pool.Subset(pool.Name, order[cfg.HeldOut:])
	}
	steps := cfg.StepsPerEpoch
	if steps == 0 {
		steps = train.Len() / cfg.Batch
	}
	// A checkpoint of this very fine-tuning is resumed from; any other is
	// discarded (checkpoint.go).
	var res *resumed
	var fp string
	if env.Checkpoint != "" {
		fp = fingerprint(env, m, data, cfg)
		var err error
		if res, err = loadCheckpoint(env.Checkpoint, fp, m, cfg, steps, train, pool); err != nil {
			log.Warn("mcd checkpoint discarded; fine-tuning starts over", "checkpoint", env.Checkpoint, "error", err)
		}
	}
	var model *nets.Model
	var opt *nets.SGD
	if res == nil {
		model = m.Clone()
		if _, err := makeHead2(ctx, env, model, data.Train, cfg); err != nil {
			return nil, nil, 0, err
		}
		opt = nets.NewSGD(cfg.Momentum, cfg.WeightDecay, false)
	} else {
		model, opt = res.model, res.sgd
		log.Info("mcd resuming fine-tuning", "checkpoint", env.Checkpoint, "completed_epochs", res.state.Epochs, "step", res.state.Step)
	}
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
	updateA, updateB := trained(stepA.Params(), cfg.Train != "heads"), trained(stepB.Params(), cfg.Train == "all")

	var aug *loaders.Augmentation
	if cfg.Augment {
		aug = &loaders.StandardAugmentation
	}
	labels := make([]int, cfg.Batch)
	var poolOrder []int
	poolPos, poolCycle := 0, 0
	var poolWeights []float64 // pool_sampling "discrepancy": cumulative weights of this epoch
	var poolSrc *rand.PCG
	var poolRNG *rand.Rand
	nextUnlabelled := func() []int {
		if poolWeights != nil {
			idx := make([]int, cfg.UnlabelledBatch)
			total := poolWeights[len(poolWeights)-1]
			for i := range idx {
				idx[i] = sort.SearchFloat64s(poolWeights, poolRNG.Float64()*total)
			}
			return idx
		}
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
	augSrc := rand.NewPCG(env.Seed, 0xa06)
	augRNG := rand.New(augSrc)

	var history []Epoch
	var best *nets.Model
	bestEpoch, bestAUROC := 0, math.Inf(-1)
	bestGap := math.Inf(-1)
	first, firstStep := 1, 0 // where the loop starts: epoch, step
	var firstSums [3]float64
	var firstSeconds float64
	if res == nil {
		best = model.Clone()
	} else {
		s := res.state
		if err := stepA.SetDropoutState(s.DropoutA); err != nil {
			return nil, nil, 0, fmt.Errorf("mcd: checkpoint %s: step A: %w", env.Checkpoint, err)
		}
		if err := stepB.SetDropoutState(s.DropoutB); err != nil {
			return nil, nil, 0, fmt.Errorf("mcd: checkpoint %s: step B: %w", env.Checkpoint, err)
		}
		if err := augSrc.UnmarshalBinary(s.Aug); err != nil {
			return nil, nil, 0, fmt.Errorf("mcd: checkpoint %s: augmentation generator: %w", env.Checkpoint, err)
		}
		// Each pass's order derives from the seed and the pass's number.
		trainPos, trainCycle, poolPos, poolCycle = s.TrainPos, s.TrainCycle, s.PoolPos, s.PoolCycle
		if trainCycle > 0 {
			trainOrder = rand.New(rand.NewPCG(env.Seed, uint64(trainCycle-1))).Perm(train.Len())
		}
		if poolCycle > 0 {
			poolOrder = rand.New(rand.NewPCG(env.Seed^0x6d6364, uint64(poolCycle-1))).Perm(pool.Len())
		}
		if s.Step > 0 && cfg.PoolSampling == "discrepancy" {
			poolWeights, poolSrc = s.PoolWeights, &rand.PCG{}
			if err := poolSrc.UnmarshalBinary(s.Pool); err != nil {
				return nil, nil, 0, fmt.Errorf("mcd: checkpoint %s: pool sampling generator: %w", env.Checkpoint, err)
			}
			poolRNG = rand.New(poolSrc)
		}
		history, bestEpoch, bestAUROC, bestGap = s.History, s.BestEpoch, s.BestAUROC, s.BestGap
		if best = res.best; s.BestIsModel {
			best = model.Clone()
		}
		first, firstStep, firstSums, firstSeconds = s.Epochs+1, s.Step, s.Sums, s.Seconds
	}
	// save checkpoints the loop after epochs complete epochs and step steps
	// of the next, with its loss sums and time so far.
	save := func(epochs, step int, sums [3]float64, seconds float64) error {
		st := &fineTuneState{Epochs: epochs, Step: step, Sums: sums, Seconds: seconds,
			TrainPos: trainPos, TrainCycle: trainCycle, PoolPos: poolPos, PoolCycle: poolCycle,
			History: history, BestEpoch: bestEpoch, BestAUROC: bestAUROC, BestGap: bestGap,
			// At the end of the epoch kept (or before the first), the
			// best model is a copy of the model.
			BestIsModel: step == 0 && bestEpoch == epochs}
		var err error
		if st.Aug, err = augSrc.MarshalBinary(); err != nil {
			return err
		}
		if step > 0 && poolWeights != nil {
			st.PoolWeights = poolWeights
			if st.Pool, err = poolSrc.MarshalBinary(); err != nil {
				return err
			}
		}
		if st.DropoutA, err = stepA.DropoutState(); err != nil {
			return err
		}
		if st.DropoutB, err = stepB.DropoutState(); err != nil {
			return err
		}
		if err := saveCheckpoint(env.Checkpoint, fp, model, best, opt, st); err != nil {
			return err
		}
		log.Debug("mcd checkpoint written", "checkpoint", env.Checkpoint, "completed_epochs", epochs, "step", step)
		return nil
	}
	if res == nil && env.Checkpoint != "" && cfg.Head2 == Head2Fit {
		// Fitting head 2 takes a pass over the labelled images: keep it.
		if err := save(0, 0, [3]float64{}, 0); err != nil {
			return nil, nil, 0, err
		}
	}
	for epoch := first; epoch <= cfg.Epochs; epoch++ {
		t0 := time.Now()
		start := 0 // the epoch's first step: firstStep when it resumes mid-epoch
		var sums [3]float64
		if epoch == first && firstStep > 0 {
			start, sums = firstStep, firstSums
			t0 = t0.Add(-time.Duration(firstSeconds * float64(time.Second)))
		}
		if cfg.PoolSampling == "discrepancy" && start == 0 {
			if poolWeights, err = discrepancyWeights(ctx, env, model, pool); err != nil {
				return nil, nil, 0, err
			}
			poolSrc = rand.NewPCG(env.Seed^0x6d6364, uint64(epoch))
			poolRNG = rand.New(poolSrc)
		}
		bar := env.Progress.Start(fmt.Sprintf("mcd fine-tune epoch %d/%d", epoch, cfg.Epochs), int64(steps), "step")
		if start > 0 {
			bar.Add(start)
		}
		for s := start; s < steps; s++ {
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
			if err := updateA.step(opt, cfg.LR, stepA.Grads()); err != nil {
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
			if err := updateB.step(opt, cfg.LR, stepB.Grads()); err != nil {
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
			// Within an epoch, every CheckpointEvery steps of the whole
			// fine-tuning; the epoch's end is checkpointed below.
			if every := cfg.CheckpointEvery; env.Checkpoint != "" && every > 0 && s+1 < steps && ((epoch-1)*steps+s+1)%every == 0 {
				if err := save(epoch-1, s+1, sums, time.Since(t0).Seconds()); err != nil {
					bar.Finish()
					return nil, nil, 0, err
				}
			}
		}
		bar.Finish()
		e := Epoch{Epoch: epoch, CE1: sums[0] / float64(steps), CE2: sums[1] / float64(steps), Discrepancy: sums[2] / float64(steps),
			ValAUROC: math.NaN(), HeldOutGap: math.NaN()}
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
		if heldOut != nil {
			if e.HeldOutGap, err = entropyGap(ctx, env, model, heldOut); err != nil {
				return nil, nil, 0, err
			}
		}
		e.Seconds = time.Since(t0).Seconds()
		history = append(history, e)
		log.Info("mcd epoch", "epoch", epoch, "ce1", e.CE1, "ce2", e.CE2, "discrepancy_loss", e.Discrepancy, "val_auroc", e.ValAUROC,
			"heldout_gap", e.HeldOutGap, "seconds", e.Seconds)
		keep := false
		switch cfg.Selection {
		case "val-auroc":
			// The authors keep an epoch when its validation AUROC beats
			// every earlier one (solver.val: prec > best_prec1).
			keep = e.ValAUROC > bestAUROC
		case "heldout-gap":
			keep = e.HeldOutGap > bestGap
		default:
			keep = true
		}
		if keep {
			best, bestEpoch, bestAUROC, bestGap = model.Clone(), epoch, e.ValAUROC, e.HeldOutGap
		}
		if env.Checkpoint != "" {
			if err := save(epoch, 0, [3]float64{}, 0); err != nil {
				return nil, nil, 0, err
			}
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
	return discrepancy(out), nil
}

// discrepancy is Discrepancy's score from the two heads' logits.
func discrepancy(out *nets.Outputs) []float64 {
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
	return scores
}

// update is the parameters a step updates, with their indices in its
// program's parameters.
type update struct {
	params []*nets.Param
	index  []int
}

// trained picks the parameters a step updates: all of them, or the heads'.
func trained(params []*nets.Param, all bool) update {
	var u update
	for i, p := range params {
		if all || p.InHead() {
			u.params, u.index = append(u.params, p), append(u.index, i)
		}
	}
	return u
}

func (u update) step(opt *nets.SGD, lr float64, grads [][]float32) error {
	if len(u.index) == len(grads) {
		return opt.Step(lr, u.params, grads)
	}
	g := make([][]float32, len(u.index))
	for k, i := range u.index {
		g[k] = grads[i]
	}
	return opt.Step(lr, u.params, g)
}

// discrepancyWeights are cumulative sampling weights of the pool for
// pool_sampling "discrepancy": each image's L1 discrepancy plus a tenth of
// the mean.
func discrepancyWeights(ctx context.Context, env *ood.Env, m *nets.Model, pool *loaders.Dataset) ([]float64, error) {
	scores, err := Discrepancy(ctx, env, m, pool)
	if err != nil {
		return nil, err
	}
	var mean float64
	for _, s := range scores {
		mean -= s / float64(len(scores))
	}
	cum := make([]float64, len(scores))
	var total float64
	for i, s := range scores {
		total += -s + 0.1*mean + 1e-12
		cum[i] = total
	}
	return cum, nil
}

// entropyGap is H̄(p1) − H̄(p2) of a model's heads on images, in
// evaluation mode: what Step B's loss drives up on unlabelled images.
func entropyGap(ctx context.Context, env *ood.Env, m *nets.Model, images *loaders.Dataset) (float64, error) {
	out, err := ood.PredictWith(ctx, env, m, images, false)
	if err != nil {
		return 0, err
	}
	p := make([]float64, out.Classes)
	var gap float64
	for i := 0; i < out.N; i++ {
		for h, sign := range [2]float64{1, -1} {
			logSum := nets.Softmax(out.Logits(h, i), 1, p)
			for k, pk := range p {
				gap -= sign * pk * (float64(out.Logits(h, i)[k]) - logSum) / float64(out.N)
			}
		}
	}
	return gap, nil
}
