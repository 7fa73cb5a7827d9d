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
// engine's graph pieces, package nets), the fine-tuning loop, its epoch
// selection and the score in finetune.go, its batch samplers in sampler.go,
// head 2 before fine-tuning in head2.go, its checkpoints (resuming a killed
// fine-tuning) in checkpoint.go, the detector in detector.go.
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
	// pass over the labelled training set in full batches (the authors' pass
	// also runs the last, smaller batch).
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

// Result is what a fine-tuning gives.
type Result struct {
	Model   *nets.Model // the selected epoch's model (Config.Selection)
	History []Epoch
	Best    int // the selected epoch (0: the network before fine-tuning)
}

// FineTune runs MCD fine-tuning on a copy of m: every labelled batch is
// followed by Step A and Step B (steps.go) on the next unlabelled batch,
// with one SGD state; the steps update what Config.Train says (every
// parameter by default, as the authors). The model kept is the epoch's
// that Config.Selection picks.
//
// With env.Checkpoint set, the state is checkpointed at the end of every
// epoch (and every cfg.CheckpointEvery steps) and resumed from that file,
// with the result of an uninterrupted run (checkpoint.go).
func FineTune(ctx context.Context, env *ood.Env, m *nets.Model, data *ood.Data, cfg Config) (*Result, error) {
	ft, err := newFineTuning(ctx, env, m, data, cfg)
	if err != nil {
		return nil, err
	}
	defer ft.close()
	labels := make([]int, cfg.Batch)
	for epoch := ft.start.epoch; epoch <= cfg.Epochs; epoch++ {
		// Start the epoch, or resume it where the checkpoint left it.
		first, sums, t0, err := ft.begin(ctx, epoch)
		if err != nil {
			return nil, err
		}
		bar := env.Progress.Start(fmt.Sprintf("mcd fine-tune epoch %d/%d", epoch, cfg.Epochs), int64(ft.steps), "step")
		if first > 0 {
			bar.Add(first)
		}
		for s := first; s < ft.steps; s++ {
			if err := ctx.Err(); err != nil {
				bar.Finish()
				return nil, err
			}
			// Step A: both heads learn the labels of the next labelled batch.
			xa, ya := ft.stepA.Data(ft.stepA.x), ft.stepA.Data(ft.stepA.y)
			ft.train.Fill(xa, labels, ft.labelled.next(), env.Norm, ft.aug, ft.augRNG)
			for i, l := range labels {
				ya[i] = float32(l)
			}
			if err := ft.stepA.Run(); err != nil {
				bar.Finish()
				return nil, fmt.Errorf("mcd step A, epoch %d, step %d: %w", epoch, s+1, err)
			}
			if err := ft.updateA.step(ft.opt, cfg.LR, ft.stepA.Grads()); err != nil {
				return nil, err
			}
			// Step B: the same labelled batch (the same augmented images, as
			// the authors' data_s), recomputed with the updated weights, and
			// the next unlabelled batch, on which the heads are made to disagree.
			copy(ft.stepB.Data(ft.stepB.x), xa)
			copy(ft.stepB.Data(ft.stepB.y), ya)
			ft.pool.Fill(ft.stepB.Data(ft.stepB.u), nil, ft.unlabelled.next(), env.Norm, nil, nil)
			if err := ft.stepB.Run(); err != nil {
				bar.Finish()
				return nil, fmt.Errorf("mcd step B, epoch %d, step %d: %w", epoch, s+1, err)
			}
			if err := ft.updateB.step(ft.opt, cfg.LR, ft.stepB.Grads()); err != nil {
				return nil, err
			}
			// Sum the losses for the history; checkpoint every CheckpointEvery steps.
			for i, l := range ft.stepB.losses() {
				sums[i] += l
			}
			bar.Add(1)
			if s%10 == 0 {
				bar.Describe(fmt.Sprintf("mcd fine-tune epoch %d/%d discrepancy loss %.3f", epoch, cfg.Epochs, sums[2]/float64(s+1)))
			}
			if ft.checkpointDue(epoch, s+1) {
				if err := ft.save(epoch-1, s+1, sums, time.Since(t0).Seconds()); err != nil {
					bar.Finish()
					return nil, err
				}
			}
		}
		bar.Finish()
		// Validate, keep the epoch if the selection prefers it, checkpoint.
		e, err := ft.validate(ctx, epoch, sums, t0)
		if err != nil {
			return nil, err
		}
		ft.history = append(ft.history, e)
		ft.selected.consider(e, ft.model)
		if env.Checkpoint != "" {
			if err := ft.save(epoch, 0, [3]float64{}, 0); err != nil {
				return nil, err
			}
		}
	}
	return &Result{Model: ft.selected.model, History: ft.history, Best: ft.selected.epoch}, nil
}

// fineTuning is a fine-tuning under way: all that a checkpoint saves and
// what it is computed from.
type fineTuning struct {
	env                  *ood.Env
	cfg                  Config
	data                 *ood.Data
	train, pool, heldOut *loaders.Dataset // pool without the held-out images
	steps                int              // labelled batches per epoch
	fingerprint          string           // with env.Checkpoint (checkpoint.go)

	model            *nets.Model
	opt              *nets.SGD
	stepA, stepB     *step
	updateA, updateB update // what each step updates (Config.Train)

	labelled   *passSampler
	unlabelled *poolSampler
	aug        *loaders.Augmentation // nil unless Config.Augment
	augSrc     *rand.PCG
	augRNG     *rand.Rand

	history  []Epoch
	selected selector
	// start is where the loop starts: the epoch, and the steps of it done
	// before a checkpoint written within it, their loss sums and time.
	start struct {
		epoch, step int
		sums        [3]float64
		seconds     float64
	}
}

// newFineTuning checks the configuration and data and sets a fine-tuning up:
// from the checkpoint of this very fine-tuning when there is one, else on a
// copy of m with its head 2 made as Config.Head2 says.
func newFineTuning(ctx context.Context, env *ood.Env, m *nets.Model, data *ood.Data, cfg Config) (*fineTuning, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if data.Train == nil || !data.Train.Labelled() || data.Unlabelled == nil || data.Unlabelled.Len() < cfg.UnlabelledBatch {
		return nil, fmt.Errorf("mcd: fine-tuning needs the labelled training set and at least %d unlabelled images", cfg.UnlabelledBatch)
	}
	// The paper's selection needs the validation images; the history has
	// their AUROC by epoch whenever they are there.
	if cfg.Selection == "val-auroc" && (data.IDVal == nil || data.OODVal == nil) {
		return nil, fmt.Errorf("mcd: selection val-auroc needs ID and OOD validation images")
	}
	if cfg.Head2 == Head2Fit && cfg.Head2Epochs == 0 {
		cfg.Head2Epochs = DefaultHead2Epochs
	}
	ft := &fineTuning{env: env, cfg: cfg, data: data, train: data.Train, pool: data.Unlabelled, steps: cfg.StepsPerEpoch}
	if cfg.Selection == "heldout-gap" {
		if ft.pool.Len()-cfg.HeldOut < cfg.UnlabelledBatch {
			return nil, fmt.Errorf("mcd: holding out %d of %d pool images leaves fewer than a batch", cfg.HeldOut, ft.pool.Len())
		}
		order := rand.New(rand.NewPCG(env.Seed^0x686f6c64, 0)).Perm(ft.pool.Len())
		ft.heldOut, ft.pool = ft.pool.Subset("held-out pool", order[:cfg.HeldOut]), ft.pool.Subset(ft.pool.Name, order[cfg.HeldOut:])
	}
	if ft.steps == 0 {
		ft.steps = ft.train.Len() / cfg.Batch
	}
	// A checkpoint of this very fine-tuning is resumed from; any other is
	// discarded (checkpoint.go).
	var res *resumed
	if env.Checkpoint != "" {
		ft.fingerprint = fingerprint(env, m, data, cfg)
		var bad error
		if res, bad = loadCheckpoint(env.Checkpoint, ft.fingerprint, m, cfg, ft.steps, ft.train, ft.pool); bad != nil {
			env.Logger().Warn("mcd checkpoint discarded; fine-tuning starts over", "checkpoint", env.Checkpoint, "error", bad)
		}
	}
	if res == nil {
		ft.model = m.Clone()
		if _, err := makeHead2(ctx, env, ft.model, data.Train, cfg); err != nil {
			return nil, err
		}
		ft.opt = nets.NewSGD(cfg.Momentum, cfg.WeightDecay, false)
	} else {
		ft.model, ft.opt = res.model, res.sgd
		env.Logger().Info("mcd resuming fine-tuning", "checkpoint", env.Checkpoint, "completed_epochs", res.state.Epochs, "step", res.state.Step)
	}
	if err := ft.compile(); err != nil {
		ft.close()
		return nil, err
	}
	if cfg.Augment {
		ft.aug = &loaders.StandardAugmentation
	}
	ft.labelled = newPassSampler(env.Seed, ft.train.Len(), cfg.Batch)
	ft.unlabelled = &poolSampler{passSampler: newPassSampler(env.Seed^0x6d6364, ft.pool.Len(), cfg.UnlabelledBatch)}
	ft.augSrc = rand.NewPCG(env.Seed, 0xa06)
	ft.augRNG = rand.New(ft.augSrc)
	ft.start.epoch = 1
	var err error
	if res == nil {
		ft.selected = selector{rule: cfg.Selection, model: ft.model.Clone(), auroc: math.Inf(-1), gap: math.Inf(-1)}
		if env.Checkpoint != "" && cfg.Head2 == Head2Fit {
			// Fitting head 2 takes a pass over the labelled images: keep it.
			err = ft.save(0, 0, [3]float64{}, 0)
		}
	} else {
		err = ft.resume(res)
	}
	if err != nil {
		ft.close()
		return nil, err
	}
	return ft, nil
}

// compile compiles the two steps and picks what each updates.
func (ft *fineTuning) compile() error {
	var err error
	if ft.stepA, err = newStepA(ft.model, ft.cfg.Batch); err != nil {
		return err
	}
	if ft.stepB, err = newStepB(ft.model, ft.cfg.Batch, ft.cfg.UnlabelledBatch, ft.cfg.Margin); err != nil {
		return err
	}
	ft.updateA, ft.updateB = trained(ft.stepA.Params(), ft.cfg.Train != "heads"), trained(ft.stepB.Params(), ft.cfg.Train == "all")
	return nil
}

func (ft *fineTuning) close() {
	for _, s := range []*step{ft.stepA, ft.stepB} {
		if s != nil {
			s.Close()
		}
	}
}

// begin starts an epoch, or resumes the one a checkpoint was written
// within: the steps done, their loss sums and when the epoch started. With
// pool_sampling "discrepancy", a new epoch weights the pool by the model's
// discrepancy.
func (ft *fineTuning) begin(ctx context.Context, epoch int) (done int, sums [3]float64, t0 time.Time, err error) {
	t0 = time.Now()
	if epoch == ft.start.epoch && ft.start.step > 0 {
		done, sums = ft.start.step, ft.start.sums
		t0 = t0.Add(-time.Duration(ft.start.seconds * float64(time.Second)))
	}
	if ft.cfg.PoolSampling == "discrepancy" && done == 0 {
		w, err := discrepancyWeights(ctx, ft.env, ft.model, ft.pool)
		if err != nil {
			return 0, sums, t0, err
		}
		ft.unlabelled.weight(w, ft.env.Seed^0x6d6364, epoch)
	}
	return done, sums, t0, nil
}

// checkpointDue says whether a checkpoint is due after done steps of an
// epoch: every Config.CheckpointEvery steps of the whole fine-tuning (the
// epoch's end is checkpointed anyway).
func (ft *fineTuning) checkpointDue(epoch, done int) bool {
	every := ft.cfg.CheckpointEvery
	return ft.env.Checkpoint != "" && every > 0 && done < ft.steps && ((epoch-1)*ft.steps+done)%every == 0
}

// validate makes an epoch's line of the history from its loss sums: with
// the model's AUROC on the validation images when there are some, and its
// heads' entropy gap on the held-out pool images for selection
// "heldout-gap" (NaN otherwise).
func (ft *fineTuning) validate(ctx context.Context, epoch int, sums [3]float64, t0 time.Time) (Epoch, error) {
	n := float64(ft.steps)
	e := Epoch{Epoch: epoch, CE1: sums[0] / n, CE2: sums[1] / n, Discrepancy: sums[2] / n, ValAUROC: math.NaN(), HeldOutGap: math.NaN()}
	if ft.data.IDVal != nil && ft.data.OODVal != nil {
		id, err := Discrepancy(ctx, ft.env, ft.model, ft.data.IDVal)
		if err != nil {
			return e, err
		}
		out, err := Discrepancy(ctx, ft.env, ft.model, ft.data.OODVal)
		if err != nil {
			return e, err
		}
		r, err := metrics.Compute(id, out)
		if err != nil {
			return e, fmt.Errorf("mcd: validation AUROC: %w", err)
		}
		e.ValAUROC = r.AUROC
	}
	if ft.heldOut != nil {
		var err error
		if e.HeldOutGap, err = entropyGap(ctx, ft.env, ft.model, ft.heldOut); err != nil {
			return e, err
		}
	}
	e.Seconds = time.Since(t0).Seconds()
	ft.env.Logger().Info("mcd epoch", "epoch", epoch, "ce1", e.CE1, "ce2", e.CE2, "discrepancy_loss", e.Discrepancy, "val_auroc", e.ValAUROC,
		"heldout_gap", e.HeldOutGap, "seconds", e.Seconds)
	return e, nil
}

// selector keeps the model of the best epoch by Config.Selection.
type selector struct {
	rule       string
	model      *nets.Model
	epoch      int     // 0: the network before fine-tuning
	auroc, gap float64 // the kept epoch's validation AUROC and held-out gap
}

// consider keeps the model at the end of an epoch if the rule prefers it.
func (s *selector) consider(e Epoch, m *nets.Model) {
	keep := true // "last"
	switch s.rule {
	case "val-auroc":
		// The authors keep an epoch when its validation AUROC beats
		// every earlier one (solver.val: prec > best_prec1).
		keep = e.ValAUROC > s.auroc
	case "heldout-gap":
		keep = e.HeldOutGap > s.gap
	}
	if keep {
		s.model, s.epoch, s.auroc, s.gap = m.Clone(), e.Epoch, e.ValAUROC, e.HeldOutGap
	}
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
