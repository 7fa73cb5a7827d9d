package nets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/mcdood/mcdood/internal/progress"
)

// Source is a set of 32×32 RGB images that training and prediction read
// batch by batch, with its normalisation (and, for training, its
// augmentation) bound: loaders.Batches is one.
type Source interface {
	Len() int
	// Classes is the number of classes of a labelled set, 0 for an
	// unlabelled one.
	Classes() int
	// Labels are the class labels, one per image (nil when unlabelled).
	Labels() []int
	// Fill writes the images at idx into dst as normalised float32 NCHW,
	// and their labels into labels when it is not nil; rng draws the
	// augmentation, if any, and with a nil rng nothing is augmented (as
	// Predict reads). epoch (from 0) is for augmentations that follow the
	// epoch (airbench's alternating flips).
	Fill(dst []float32, labels []int, idx []int, rng *rand.Rand, epoch int)
	// Name names the set in messages.
	Name() string
}

// TrainConfig is a supervised training recipe for the two-head network: both
// heads learn the labels with cross-entropy (the pre-training of Yu & Aizawa,
// ICCV 2019).
type TrainConfig struct {
	Epochs      int
	Batch       int
	Momentum    float64
	WeightDecay float64
	Nesterov    bool
	Schedule    Schedule
	Seed        uint64 // weights, batch order, augmentation and dropout all derive from it

	// LabelSmoothing s > 0 trains both heads on targets (1 − s)·onehot + s/K
	// (Szegedy et al., CVPR 2016; airbench uses 0.2).
	LabelSmoothing float64
	// NormShiftLRScale, when not 0 or 1, multiplies the learning rate of the
	// batch norms' shifts and divides their weight decay by as much, so that
	// their decay stays the other parameters' (airbench's bias_scaler, 64).
	NormShiftLRScale float64
	// EarlyOnlyEpochs is how many epochs EarlyOnly parameters train
	// (airbench's whiten_bias_epochs, 3).
	EarlyOnlyEpochs int
	// EMA, when set, averages the weights as airbench's Lookahead does.
	EMA *EMA
	// EntropyMargin, when set, adds the leave-out classifiers' margin term
	// on batches of held-out images (EntropyMarginProgram).
	EntropyMargin *EntropyMargin
}

// EntropyMargin is the term of Vyas et al. (ECCV 2018) that raises the mean
// entropy on held-out images above the labelled batch's by Margin, weighted
// by Weight (their β): every step also takes Batch images of Outliers, in a
// shuffled order that cycles through them (a new order every epoch),
// augmented as the labelled images are.
type EntropyMargin struct {
	Outliers       Source
	Batch          int
	Margin, Weight float64
}

// EMA is airbench's exponential moving average of the weights with Lookahead
// (Zhang et al., NeurIPS 2019): from epoch Start (from 0), every Every steps,
// the average moves to the network by 1 − ρ with ρ = Decay^Every·(t/T)^Power
// (t the step, T all steps: averaging grows stronger through training), and
// the network is set to the average; at the end of each epoch too. Batch-norm
// statistics are averaged with the weights.
type EMA struct {
	Start, Every int
	Decay, Power float64
}

// TrainOptions are the parts of a training run that do not change its result.
type TrainOptions struct {
	// Checkpoint, when set, is written atomically after every epoch and, if
	// it exists when training starts, resumed from.
	Checkpoint string
	// Meta is stored in the checkpoint; a checkpoint whose Meta["recipe"]
	// differs from this one is refused rather than resumed.
	Meta     map[string]string
	Test     Source // evaluated after each epoch when set
	Progress *progress.Reporter
	Log      *slog.Logger
}

// EpochStats is one line of a training history.
type EpochStats struct {
	Epoch    int       `json:"epoch"`
	LR       float64   `json:"lr"` // at the epoch's first step (schedules move every step)
	Loss     float64   `json:"loss"`
	Accuracy []float64 `json:"test_accuracy,omitempty"` // per head, when a test set was given
	Seconds  float64   `json:"seconds"`
}

// Train trains a new model of spec on data (or resumes the checkpoint in
// opts) and returns it with the per-epoch history of this call. The
// incomplete last batch of each epoch is dropped, so every step has the
// same batch size (the shuffled order differs every epoch).
func Train(ctx context.Context, spec Spec, data Source, cfg TrainConfig, opts TrainOptions) (*Model, []EpochStats, error) {
	if data.Classes() == 0 {
		return nil, nil, fmt.Errorf("nets: training set %s has no labels", data.Name())
	}
	if cfg.Batch < 1 || cfg.Batch > data.Len() || cfg.Epochs < 0 || cfg.Schedule == nil {
		return nil, nil, fmt.Errorf("nets: training recipe: batch %d of %d images, %d epochs, schedule %v", cfg.Batch, data.Len(), cfg.Epochs, cfg.Schedule)
	}
	if e := cfg.EntropyMargin; e != nil && (e.Outliers == nil || e.Batch < 1 || e.Batch > e.Outliers.Len() || e.Weight < 0) {
		return nil, nil, fmt.Errorf("nets: entropy-margin term: batch %d of held-out images, weight %v", e.Batch, e.Weight)
	}
	t := &trainer{spec: spec, data: data, cfg: cfg, opts: opts, log: opts.Log, steps: data.Len() / cfg.Batch, labels: make([]int, cfg.Batch)}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	m, opt, start, err := resumeOrNew(spec, data.Classes(), cfg, opts)
	if err != nil {
		return nil, nil, err
	}
	if start > 0 {
		t.log.Info("resuming training", "checkpoint", opts.Checkpoint, "completed_epochs", start)
	}
	if start >= cfg.Epochs {
		return m, nil, nil
	}
	if start == 0 {
		if err := m.InitFromData(data); err != nil {
			return nil, nil, err
		}
	}
	t.m, t.opt = m, opt
	if t.prog, t.outliers, err = cfg.program(m); err != nil {
		return nil, nil, err
	}
	defer t.prog.Close()
	var history []EpochStats
	for epoch := start; epoch < cfg.Epochs; epoch++ {
		t0 := time.Now()
		loss, err := t.epoch(ctx, epoch)
		if err != nil {
			return nil, nil, err
		}
		st, err := t.endEpoch(ctx, epoch, loss, t0)
		if err != nil {
			return nil, nil, err
		}
		history = append(history, st)
	}
	return m, history, nil
}

// trainer is a training run under way.
type trainer struct {
	spec     Spec
	data     Source
	cfg      TrainConfig
	opts     TrainOptions
	log      *slog.Logger
	m        *Model
	opt      *SGD
	prog     *Program
	outliers *outlierFeed
	steps    int // per epoch
	labels   []int
	avg      *average // the weights' average (TrainConfig.EMA) once it has begun
}

// epoch runs an epoch's steps and returns their summed loss.
func (t *trainer) epoch(ctx context.Context, epoch int) (float64, error) {
	cfg, prog := t.cfg, t.prog
	order := rand.New(rand.NewPCG(cfg.Seed, uint64(epoch)*2+1)).Perm(t.data.Len())
	augRNG := rand.New(rand.NewPCG(cfg.Seed, uint64(epoch)*2+2))
	prog.SetDropoutSeed(cfg.Seed^0xd50, uint64(epoch))
	groups := cfg.groups(prog, epoch)
	if cfg.EMA != nil && epoch > cfg.EMA.Start && t.avg == nil {
		// A resumed run: at an epoch's end the network is its average.
		t.avg = newAverage(t.m)
	}
	bar := t.opts.Progress.Start(fmt.Sprintf("train %s epoch %d/%d", t.spec.Name, epoch+1, cfg.Epochs), int64(t.steps), "batch")
	var lossSum float64
	for s := 0; s < t.steps; s++ {
		if err := ctx.Err(); err != nil {
			bar.Finish()
			return 0, err
		}
		idx := order[s*cfg.Batch : (s+1)*cfg.Batch]
		t.data.Fill(prog.Input(), t.labels, idx, augRNG, epoch)
		t.outliers.fill(prog, s, epoch)
		for i, l := range t.labels {
			prog.Labels()[i] = float32(l)
		}
		if err := prog.Run(); err != nil {
			bar.Finish()
			return 0, fmt.Errorf("training %s, epoch %d, step %d: %w", t.spec.Name, epoch+1, s+1, err)
		}
		lr := cfg.Schedule.LR(float64(epoch) + float64(s)/float64(t.steps))
		if err := groups.step(t.opt, lr, cfg.WeightDecay, prog.Grads()); err != nil {
			return 0, err
		}
		t.average(epoch, s)
		lossSum += prog.Loss()
		bar.Add(1)
		if s%20 == 0 {
			bar.Describe(fmt.Sprintf("train %s epoch %d/%d loss %.3f", t.spec.Name, epoch+1, cfg.Epochs, lossSum/float64(s+1)))
		}
	}
	bar.Finish()
	return lossSum, nil
}

// average moves the weights' average after step s of an epoch, every
// EMA.Every steps from epoch EMA.Start (TrainConfig.EMA).
func (t *trainer) average(epoch, s int) {
	e := t.cfg.EMA
	if e == nil || epoch < e.Start {
		return
	}
	if step := epoch*t.steps + s + 1; step%e.Every == 0 {
		if t.avg == nil {
			t.avg = newAverage(t.m)
		} else {
			t.avg.update(t.m, math.Pow(e.Decay, float64(e.Every))*math.Pow(float64(step)/float64(t.cfg.Epochs*t.steps), e.Power))
		}
	}
}

// endEpoch ends an epoch: the network takes the weights' average (EMA), is
// tested (TrainOptions.Test), logged and checkpointed.
func (t *trainer) endEpoch(ctx context.Context, epoch int, lossSum float64, t0 time.Time) (EpochStats, error) {
	if t.avg != nil {
		t.avg.update(t.m, 1) // the network takes the average at the epoch's end
	}
	st := EpochStats{Epoch: epoch + 1, LR: t.cfg.Schedule.LR(float64(epoch)), Loss: lossSum / float64(t.steps)}
	if t.opts.Test != nil {
		out, err := Predict(ctx, t.m, t.opts.Test, PredictOptions{Batch: 256})
		if err != nil {
			return st, err
		}
		st.Accuracy = out.Accuracy(t.opts.Test.Labels())
	}
	st.Seconds = time.Since(t0).Seconds()
	attrs := []any{"net", t.spec.Name, "epoch", st.Epoch, "lr", st.LR, "loss", st.Loss, "seconds", st.Seconds}
	if st.Accuracy != nil {
		attrs = append(attrs, "test_accuracy", st.Accuracy)
	}
	t.log.Info("epoch done", attrs...)
	if t.opts.Checkpoint != "" {
		if err := SaveCheckpoint(t.opts.Checkpoint, t.m, State{Epoch: epoch + 1, Meta: t.opts.Meta, SGD: t.opt}); err != nil {
			return st, fmt.Errorf("saving checkpoint: %w", err)
		}
	}
	return st, nil
}

// program compiles the recipe's training step, with the entropy-margin term
// when it has one.
func (cfg TrainConfig) program(m *Model) (*Program, *outlierFeed, error) {
	e := cfg.EntropyMargin
	if e == nil {
		p, err := m.TrainProgram(cfg.Batch, cfg.LabelSmoothing)
		return p, nil, err
	}
	p, err := m.EntropyMarginProgram(cfg.Batch, e.Batch, cfg.LabelSmoothing, e.Margin, e.Weight)
	if err != nil {
		return nil, nil, err
	}
	return p.Program, &outlierFeed{EntropyMargin: e, input: p.Outliers, seed: cfg.Seed}, nil
}

// outlierFeed fills the held-out batch of each entropy-margin step.
type outlierFeed struct {
	*EntropyMargin
	input Tensor
	seed  uint64
	epoch int
	order []int
	rng   *rand.Rand
	idx   []int
}

// fill writes step s of epoch's held-out batch into p; nothing on a nil feed.
func (f *outlierFeed) fill(p *Program, s, epoch int) {
	if f == nil {
		return
	}
	if f.order == nil || f.epoch != epoch {
		// A stream apart from the labelled images' (PCG(seed, 2e+1), (seed, 2e+2)).
		f.order = rand.New(rand.NewPCG(f.seed^0x0e10c, uint64(epoch)*2+1)).Perm(f.Outliers.Len())
		f.rng = rand.New(rand.NewPCG(f.seed^0x0e10c, uint64(epoch)*2+2))
		f.epoch, f.idx = epoch, make([]int, f.Batch)
	}
	n := len(f.order)
	for j := range f.idx {
		f.idx[j] = f.order[(s*f.Batch+j)%n]
	}
	f.Outliers.Fill(p.Data(f.input), nil, f.idx, f.rng, epoch)
}

// paramGroups are a training step's parameters by learning-rate scale:
// every trained parameter, and the batch norms' shifts when their rate is
// scaled. grads index the program's parameters.
type paramGroups []paramGroup

type paramGroup struct {
	lrScale, wdScale float64
	params           []*Param
	index            []int // into the program's Params and Grads
}

// groups sorts prog's parameters for an epoch: EarlyOnly parameters drop
// out after EarlyOnlyEpochs.
func (cfg TrainConfig) groups(prog *Program, epoch int) paramGroups {
	plain := paramGroup{lrScale: 1, wdScale: 1}
	shift := paramGroup{lrScale: cfg.NormShiftLRScale, wdScale: 1 / cfg.NormShiftLRScale}
	for i, p := range prog.Params() {
		switch {
		case p.Role == EarlyOnly && epoch >= cfg.EarlyOnlyEpochs:
		case p.Role == NormShift && cfg.NormShiftLRScale != 0 && cfg.NormShiftLRScale != 1:
			shift.params, shift.index = append(shift.params, p), append(shift.index, i)
		default:
			plain.params, plain.index = append(plain.params, p), append(plain.index, i)
		}
	}
	if shift.params == nil {
		return paramGroups{plain}
	}
	return paramGroups{plain, shift}
}

// step updates every group at learning rate lr (times the group's scale).
func (gs paramGroups) step(opt *SGD, lr, wd float64, grads [][]float32) error {
	for _, g := range gs {
		gr := make([][]float32, len(g.index))
		for k, i := range g.index {
			gr[k] = grads[i]
		}
		if err := opt.StepDecay(lr*g.lrScale, wd*g.wdScale, g.params, gr); err != nil {
			return err
		}
	}
	return nil
}

// average is the EMA's copy of a model's parameters and batch-norm
// statistics.
type average struct {
	params [][]float32
	bn     [][2][]float32
}

func newAverage(m *Model) *average {
	a := &average{}
	for _, p := range m.params {
		a.params = append(a.params, slices.Clone(p.Data()))
	}
	for _, name := range m.bnNames {
		s := m.bn[name]
		a.bn = append(a.bn, [2][]float32{slices.Clone(s.Mean), slices.Clone(s.Var)})
	}
	return a
}

// update moves the average towards m by 1 − rho (torch's lerp_) and sets m
// to it.
func (a *average) update(m *Model, rho float64) {
	w := float32(1 - rho)
	lerp := func(avg, cur []float32) {
		for i, v := range cur {
			avg[i] += w * (v - avg[i])
			cur[i] = avg[i]
		}
	}
	for k, p := range m.params {
		lerp(a.params[k], p.Data())
	}
	for k, name := range m.bnNames {
		s := m.bn[name]
		lerp(a.bn[k][0], s.Mean)
		lerp(a.bn[k][1], s.Var)
	}
}

// resumeOrNew loads opts.Checkpoint when it exists, else makes a fresh model.
func resumeOrNew(spec Spec, classes int, cfg TrainConfig, opts TrainOptions) (*Model, *SGD, int, error) {
	if opts.Checkpoint != "" {
		m, st, err := LoadCheckpoint(opts.Checkpoint)
		switch {
		case err == nil:
			if m.Spec != spec || m.Classes != classes {
				return nil, nil, 0, fmt.Errorf("checkpoint %s holds %s with %d classes, not %s with %d: %w", opts.Checkpoint, m.Spec.Name, m.Classes, spec.Name, classes, ErrCheckpoint)
			}
			if want, got := opts.Meta["recipe"], st.Meta["recipe"]; want != got {
				return nil, nil, 0, fmt.Errorf("checkpoint %s was trained with recipe %q, this run uses %q; move it away to start over: %w", opts.Checkpoint, got, want, ErrCheckpoint)
			}
			if st.SGD == nil {
				st.SGD = NewSGD(cfg.Momentum, cfg.WeightDecay, cfg.Nesterov)
			}
			return m, st.SGD, st.Epoch, nil
		case !errors.Is(err, os.ErrNotExist):
			return nil, nil, 0, err
		}
	}
	m, err := New(spec, classes, cfg.Seed)
	if err != nil {
		return nil, nil, 0, err
	}
	return m, NewSGD(cfg.Momentum, cfg.WeightDecay, cfg.Nesterov), 0, nil
}
