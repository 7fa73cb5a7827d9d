package nets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
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
	// Predict reads).
	Fill(dst []float32, labels []int, idx []int, rng *rand.Rand)
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
	prog, err := m.TrainProgram(cfg.Batch)
	if err != nil {
		return nil, nil, err
	}
	defer prog.Close()
	steps := data.Len() / cfg.Batch
	labels := make([]int, cfg.Batch)
	var history []EpochStats
	for epoch := start; epoch < cfg.Epochs; epoch++ {
		t0 := time.Now()
		order := rand.New(rand.NewPCG(cfg.Seed, uint64(epoch)*2+1)).Perm(data.Len())
		augRNG := rand.New(rand.NewPCG(cfg.Seed, uint64(epoch)*2+2))
		prog.SetDropoutSeed(cfg.Seed^0xd50, uint64(epoch))
		bar := opts.Progress.Start(fmt.Sprintf("train %s epoch %d/%d", spec.Name, epoch+1, cfg.Epochs), int64(steps), "batch")
		var lossSum float64
		for s := 0; s < steps; s++ {
			if err := ctx.Err(); err != nil {
				bar.Finish()
				return nil, nil, err
			}
			idx := order[s*cfg.Batch : (s+1)*cfg.Batch]
			data.Fill(prog.Input(), labels, idx, augRNG)
			for i, l := range labels {
				prog.Labels()[i] = float32(l)
			}
			if err := prog.Run(); err != nil {
				bar.Finish()
				return nil, nil, fmt.Errorf("training %s, epoch %d, step %d: %w", spec.Name, epoch+1, s+1, err)
			}
			lr := cfg.Schedule.LR(float64(epoch) + float64(s)/float64(steps))
			if err := opt.Step(lr, prog.Params(), prog.Grads()); err != nil {
				return nil, nil, err
			}
			lossSum += prog.Loss()
			bar.Add(1)
			if s%20 == 0 {
				bar.Describe(fmt.Sprintf("train %s epoch %d/%d loss %.3f", spec.Name, epoch+1, cfg.Epochs, lossSum/float64(s+1)))
			}
		}
		bar.Finish()
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
	Features bool // also return the extractor's features
	Progress *progress.Reporter
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
func (o *Outputs) Accuracy(labels []int) []float64 {
	acc := make([]float64, 2)
	for h := 0; h < 2; h++ {
		right := 0
		for i, l := range labels {
			if argmax(o.Logits(h, i)) == l {
				right++
			}
		}
		acc[h] = float64(right) / float64(len(labels))
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
	for b0 := 0; b0 < n; b0 += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		k := min(batch, n-b0)
		for i := range idx {
			idx[i] = b0 + min(i, k-1) // pad with the last image
		}
		ds.Fill(prog.Input(), nil, idx, nil)
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
	}
	return out, nil
}
