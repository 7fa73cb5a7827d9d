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
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, opt, start, err := resumeOrNew(spec, data.Classes(), cfg, opts)
	if err != nil {
		return nil, nil, err
	}
	if start > 0 {
		log.Info("resuming training", "checkpoint", opts.Checkpoint, "completed_epochs", start)
	}
	if start >= cfg.Epochs {
		return m, nil, nil
	}
	if start == 0 {
		if err := m.InitFromData(data); err != nil {
			return nil, nil, err
		}
	}
	prog, outliers, err := cfg.program(m)
	if err != nil {
		return nil, nil, err
	}
	defer prog.Close()
	steps := data.Len() / cfg.Batch
	labels := make([]int, cfg.Batch)
	var history []EpochStats
	var avg *average
	for epoch := start; epoch < cfg.Epochs; epoch++ {
		t0 := time.Now()
		order := rand.New(rand.NewPCG(cfg.Seed, uint64(epoch)*2+1)).Perm(data.Len())
		augRNG := rand.New(rand.NewPCG(cfg.Seed, uint64(epoch)*2+2))
		prog.SetDropoutSeed(cfg.Seed^0xd50, uint64(epoch))
		groups := cfg.groups(prog, epoch)
		if cfg.EMA != nil && epoch > cfg.EMA.Start && avg == nil {
			// A resumed run: at an epoch's end the network is its average.
			avg = newAverage(m)
		}
		bar := opts.Progress.Start(fmt.Sprintf("train %s epoch %d/%d", spec.Name, epoch+1, cfg.Epochs), int64(steps), "batch")
		var lossSum float64
		for s := 0; s < steps; s++ {
			if err := ctx.Err(); err != nil {
				bar.Finish()
				return nil, nil, err
			}
			idx := order[s*cfg.Batch : (s+1)*cfg.Batch]
			data.Fill(prog.Input(), labels, idx, augRNG, epoch)
			outliers.fill(prog, s, epoch)
			for i, l := range labels {
				prog.Labels()[i] = float32(l)
			}
			if err := prog.Run(); err != nil {
				bar.Finish()
				return nil, nil, fmt.Errorf("training %s, epoch %d, step %d: %w", spec.Name, epoch+1, s+1, err)
			}
			lr := cfg.Schedule.LR(float64(epoch) + float64(s)/float64(steps))
			if err := groups.step(opt, lr, cfg.WeightDecay, prog.Grads()); err != nil {
				return nil, nil, err
			}
			if e := cfg.EMA; e != nil && epoch >= e.Start {
				if t := epoch*steps + s + 1; t%e.Every == 0 {
					if avg == nil {
						avg = newAverage(m)
					} else {
						avg.update(m, math.Pow(e.Decay, float64(e.Every))*math.Pow(float64(t)/float64(cfg.Epochs*steps), e.Power))
					}
				}
			}
			lossSum += prog.Loss()
			bar.Add(1)
			if s%20 == 0 {
				bar.Describe(fmt.Sprintf("train %s epoch %d/%d loss %.3f", spec.Name, epoch+1, cfg.Epochs, lossSum/float64(s+1)))
			}
		}
		bar.Finish()
		if avg != nil {
			avg.update(m, 1) // the network takes the average at the epoch's end
		}
		st := EpochStats{Epoch: epoch + 1, LR: cfg.Schedule.LR(float64(epoch)), Loss: lossSum / float64(steps)}
		if opts.Test != nil {
			out, err := Predict(ctx, m, opts.Test, PredictOptions{Batch: 256})
			if err != nil {
				return nil, nil, err
			}
			st.Accuracy = out.Accuracy(opts.Test.Labels())
		}
		st.Seconds = time.Since(t0).Seconds()
		history = append(history, st)
		attrs := []any{"net", spec.Name, "epoch", st.Epoch, "lr", st.LR, "loss", st.Loss, "seconds", st.Seconds}
		if st.Accuracy != nil {
			attrs = append(attrs, "test_accuracy", st.Accuracy)
		}
		log.Info("epoch done", attrs...)
		if opts.Checkpoint != "" {
			if err := SaveCheckpoint(opts.Checkpoint, m, State{Epoch: epoch + 1, Meta: opts.Meta, SGD: opt}); err != nil {
				return nil, nil, fmt.Errorf("saving checkpoint: %w", err)
			}
		}
	}
	return m, history, nil
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

// PredictOptions tune Predict.
type PredictOptions struct {
	Batch    int  // images per forward pass (default 256)
	Features bool // also return the extractor's features (not with TTA)
	// TTA averages the logits over views of each image (airbench's
	// test-time augmentation): 1, the image and its mirror; 2, those and
	// the mirrored pair shifted by one pixel up-left and down-right with
	// reflection, weighted ½ and ¼ + ¼.
	TTA      int
	Progress *progress.Reporter
}

// view is one test-time view of an image: a shift by (dx, dy) with the
// border reflected, then a mirror when flip is set, and its weight.
type view struct {
	dx, dy int
	flip   bool
	w      float32
}

// ttaViews are the views of a TTA level (PredictOptions.TTA).
func ttaViews(level int) ([]view, error) {
	switch level {
	case 0:
		return []view{{w: 1}}, nil
	case 1:
		return []view{{w: 0.5}, {flip: true, w: 0.5}}, nil
	case 2:
		return []view{{w: 0.25}, {flip: true, w: 0.25}, {dx: -1, dy: -1, w: 0.125}, {dx: -1, dy: -1, flip: true, w: 0.125},
			{dx: 1, dy: 1, w: 0.125}, {dx: 1, dy: 1, flip: true, w: 0.125}}, nil
	}
	return nil, fmt.Errorf("nets: TTA level %d: want 0, 1 or 2", level)
}

// apply writes view v of the NCHW images in src into dst.
func (v view) apply(dst, src []float32) {
	reflect := func(i int) int {
		switch {
		case i < 0:
			return -i
		case i >= ImageSide:
			return 2*(ImageSide-1) - i
		}
		return i
	}
	for p := 0; p < len(src); p += ImageSide * ImageSide {
		in, out := src[p:p+ImageSide*ImageSide], dst[p:p+ImageSide*ImageSide]
		for y := 0; y < ImageSide; y++ {
			row := in[reflect(y+v.dy)*ImageSide:]
			for x := 0; x < ImageSide; x++ {
				ox := x
				if v.flip {
					ox = ImageSide - 1 - x
				}
				out[y*ImageSide+ox] = row[reflect(x+v.dx)]
			}
		}
	}
}

// Outputs are a model's evaluation-mode outputs on a data set, image by image.
type Outputs struct {
	N, Classes, FeatureDim int
	Z1, Z2                 []float32 // logits of head 1 and head 2, N × Classes
	Features               []float32 // N × FeatureDim when asked for
}

// Logits returns image i's logits of head h (0 or 1).
func (o *Outputs) Logits(h, i int) []float32 {
	z := o.Z1
	if h == 1 {
		z = o.Z2
	}
	return z[i*o.Classes : (i+1)*o.Classes]
}

// Accuracy is the fraction of images whose arg-max logit is the label, per head.
func (o *Outputs) Accuracy(labels []int) []float64 { return o.AccuracyRange(labels, 0, len(labels)) }

// AccuracyRange is Accuracy over images lo to hi − 1.
func (o *Outputs) AccuracyRange(labels []int, lo, hi int) []float64 {
	acc := make([]float64, 2)
	for h := 0; h < 2; h++ {
		right := 0
		for i := lo; i < hi; i++ {
			if argmax(o.Logits(h, i)) == labels[i] {
				right++
			}
		}
		acc[h] = float64(right) / float64(hi-lo)
	}
	return acc
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// Predict runs the model in evaluation mode over a data set. The last batch
// is padded (evaluation-mode networks treat images independently).
func Predict(ctx context.Context, m *Model, ds Source, o PredictOptions) (*Outputs, error) {
	if o.Batch <= 0 {
		o.Batch = 256
	}
	n := ds.Len()
	batch := min(o.Batch, n)
	if batch == 0 {
		return &Outputs{Classes: m.Classes, FeatureDim: m.FeatureDim()}, nil
	}
	views, err := ttaViews(o.TTA)
	if err != nil {
		return nil, err
	}
	if o.TTA > 0 && o.Features {
		return nil, fmt.Errorf("nets: Predict: features with TTA")
	}
	prog, err := m.EvalProgram(batch)
	if err != nil {
		return nil, err
	}
	defer prog.Close()
	out := &Outputs{N: n, Classes: m.Classes, FeatureDim: m.FeatureDim(),
		Z1: make([]float32, n*m.Classes), Z2: make([]float32, n*m.Classes)}
	if o.Features {
		out.Features = make([]float32, n*m.FeatureDim())
	}
	bar := o.Progress.Start("evaluate "+ds.Name(), int64(n), "img")
	defer bar.Finish()
	idx := make([]int, batch)
	var clean []float32
	if o.TTA > 0 {
		clean = make([]float32, len(prog.Input()))
	}
	for b0 := 0; b0 < n; b0 += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		k := min(batch, n-b0)
		for i := range idx {
			idx[i] = b0 + min(i, k-1) // pad with the last image
		}
		if o.TTA == 0 {
			ds.Fill(prog.Input(), nil, idx, nil, 0)
			if err := prog.Run(); err != nil {
				return nil, err
			}
			z1, z2 := prog.Logits()
			copy(out.Z1[b0*m.Classes:], z1[:k*m.Classes])
			copy(out.Z2[b0*m.Classes:], z2[:k*m.Classes])
			if o.Features {
				copy(out.Features[b0*m.FeatureDim():], prog.Features()[:k*m.FeatureDim()])
			}
			bar.Add(k)
			continue
		}
		ds.Fill(clean, nil, idx, nil, 0)
		for _, v := range views {
			v.apply(prog.Input(), clean)
			if err := prog.Run(); err != nil {
				return nil, err
			}
			z1, z2 := prog.Logits()
			for i := range k * m.Classes {
				out.Z1[b0*m.Classes+i] += v.w * z1[i]
				out.Z2[b0*m.Classes+i] += v.w * z2[i]
			}
		}
		bar.Add(k)
	}
	return out, nil
}
