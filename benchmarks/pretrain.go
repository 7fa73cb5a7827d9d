package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"time"

	"github.com/mcdood/mcdood/experiments"
	"github.com/mcdood/mcdood/internal/progress"
	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/ood"
)

// Pretraining is one pre-training of a plan's network: both heads with
// cross-entropy on labelled ID images, by the network's recipe (the
// pre-training of Yu & Aizawa, ICCV 2019).
type Pretraining struct {
	Network experiments.Network
	Train   *loaders.Dataset // the labelled images
	Seed    uint64           // weights, order, augmentation
	// Key is stored in the checkpoint; a checkpoint of another key is
	// refused, not resumed (a plan's ModelKey, or the recipe's description).
	Key string
	// Checkpoint is written after every epoch and resumed from.
	Checkpoint string
	// Test, when set, is measured after every epoch (mcdood train).
	Test     *loaders.Dataset
	Progress *progress.Reporter
	Log      *slog.Logger
}

// Pretrain trains p's network, or resumes it from its checkpoint (a
// finished one trains no further epoch), and returns it with the history
// of the epochs this call trained. "mcdood train" and Run both pre-train
// here.
func Pretrain(ctx context.Context, p Pretraining) (*nets.Model, []nets.EpochStats, error) {
	cfg, err := p.Network.TrainConfig(p.Seed)
	if err != nil {
		return nil, nil, err
	}
	return p.train(ctx, cfg)
}

func (p Pretraining) train(ctx context.Context, cfg nets.TrainConfig) (*nets.Model, []nets.EpochStats, error) {
	opts := nets.TrainOptions{Checkpoint: p.Checkpoint, Meta: map[string]string{"recipe": p.Key}, Progress: p.Progress, Log: p.Log}
	if p.Test != nil {
		opts.Test = loaders.Batches{Set: p.Test, Norm: p.Network.Normalization()}
	}
	return nets.Train(ctx, p.Network.Spec, p.Network.TrainingSet(p.Train, p.Seed), cfg, opts)
}

// TrainPretraining is the pre-training "mcdood train" runs: network on the
// ID set id's images train, tested on test after every epoch. With a plan it
// is the plan's cached model (its cap on training images, its ModelKey, its
// ModelPath under its out), so that a reproduce of the plan loads it
// instead of training again; without, its key describes the recipe and its
// checkpoint is out/train/NET-ID-seedS.ckpt.
func TrainPretraining(plan *experiments.Plan, id string, network experiments.Network, seed uint64, train, test *loaders.Dataset) Pretraining {
	p := Pretraining{Network: network, Train: train, Seed: seed, Test: test,
		Key:        fmt.Sprintf("%s %s %+v seed=%d", network.Name, id, network.Recipe, seed),
		Checkpoint: filepath.Join("out", "train", fmt.Sprintf("%s-%s-seed%d.ckpt", network.Name, id, seed))}
	if plan != nil {
		p.Train = train.Head(plan.File.TrainImages)
		p.Key = plan.ModelKey(id, network.Name, seed)
		p.Checkpoint = plan.ModelPath(plan.File.Out, p.Key)
	}
	return p
}

// TrainReport is what "mcdood train" prints after training (WriteText).
type TrainReport struct {
	History    []nets.EpochStats // the epochs this call trained
	Model      string            // the network (nets.Model.Describe)
	Checkpoint string
	Accuracy   *Accuracy // on the test images
	TTA        int       // the recipe's test-time augmentation level
	// ExactAccuracy is head 1's on the mirror's first exactTestImages test
	// images, which are exact; RebuiltAccuracy is on the other Rebuilt
	// images, which carry JPEG error (shared/data/README.md). Rebuilt is 0
	// when the test set has no others.
	ExactAccuracy, RebuiltAccuracy float64
	Rebuilt                        int
	Took                           time.Duration // training and testing
}

// exactTestImages is how many of the mirror's test images are exact.
const exactTestImages = 1000

// PretrainAndTest pre-trains p's network (Pretrain) and measures it on
// p.Test (TestAccuracy): "mcdood train" after its flags.
func PretrainAndTest(ctx context.Context, p Pretraining) (*TrainReport, error) {
	if p.Test == nil {
		return nil, errors.New("pre-training " + p.Network.Name + ": no test images")
	}
	t0 := time.Now()
	m, hist, err := Pretrain(ctx, p)
	if err != nil {
		return nil, err
	}
	acc, err := TestAccuracy(ctx, m, p.Network, p.Test, 0)
	if err != nil {
		return nil, err
	}
	rep := &TrainReport{History: hist, Model: m.Describe(), Checkpoint: p.Checkpoint, Accuracy: acc, TTA: p.Network.Recipe.TTA}
	if n, test := exactTestImages, p.Test; n < test.Len() {
		rep.ExactAccuracy = acc.Outputs.AccuracyRange(test.Labels, 0, n)[0]
		rep.RebuiltAccuracy = acc.Outputs.AccuracyRange(test.Labels, n, test.Len())[0]
		rep.Rebuilt = test.Len() - n
	}
	rep.Took = time.Since(t0)
	return rep, nil
}

// WriteText writes the report: one line per epoch, the network, its
// checkpoint and test accuracy, and head 1's on exact and rebuilt images.
func (r *TrainReport) WriteText(w io.Writer) {
	for _, h := range r.History {
		fmt.Fprintf(w, "epoch %3d  lr %.4f  loss %.4f  test accuracy %5.2f%% / %5.2f%% (head 1 / head 2)  %.0fs\n",
			h.Epoch, h.LR, h.Loss, 100*h.Accuracy[0], 100*h.Accuracy[1], h.Seconds)
	}
	acc := r.Accuracy
	fmt.Fprintf(w, "%s\ncheckpoint %s\ntest accuracy: %.2f%% (head 1), %.2f%% (head 2); %.1f minutes\n",
		r.Model, r.Checkpoint, 100*acc.Plain[0], 100*acc.Plain[1], r.Took.Minutes())
	if acc.TTA != nil {
		fmt.Fprintf(w, "with test-time augmentation (level %d): %.2f%% (head 1), %.2f%% (head 2)\n", r.TTA, 100*acc.TTA[0], 100*acc.TTA[1])
	}
	if r.Rebuilt > 0 {
		fmt.Fprintf(w, "head 1 on test images 0–%d: %.2f%%; on the other %d: %.2f%%\n",
			exactTestImages-1, 100*r.ExactAccuracy, r.Rebuilt, 100*r.RebuiltAccuracy)
	}
}

// Accuracy is a network's accuracy on labelled test images, per head.
type Accuracy struct {
	Outputs *nets.Outputs // the plain predictions
	Plain   []float64
	// TTA is with the recipe's test-time augmentation; nil without.
	TTA []float64
}

// TestAccuracy measures m, the plan's network net, on test in batches of
// batch (0: nets.Predict's default).
func TestAccuracy(ctx context.Context, m *nets.Model, net experiments.Network, test *loaders.Dataset, batch int) (*Accuracy, error) {
	set := loaders.Batches{Set: test, Norm: net.Normalization()}
	out, err := nets.Predict(ctx, m, set, nets.PredictOptions{Batch: batch})
	if err != nil {
		return nil, err
	}
	acc := &Accuracy{Outputs: out, Plain: out.Accuracy(test.Labels)}
	if tta := net.Recipe.TTA; tta > 0 {
		out, err := nets.Predict(ctx, m, set, nets.PredictOptions{Batch: batch, TTA: tta})
		if err != nil {
			return nil, err
		}
		acc.TTA = out.Accuracy(test.Labels)
	}
	return acc, nil
}

// loadNetwork gets the group's network — pre-trained (or loaded from the
// model cache), or a published one loaded from its weights file — and
// measures its accuracy on test, the ID images the detectors score.
func (r *groupRun) loadNetwork(ctx context.Context, test *loaders.Dataset) error {
	net := r.plan.Network(r.key.network)
	var m *nets.Model
	var err error
	if r.weights != "" {
		m, err = r.loadPublished(net)
	} else {
		m, err = r.pretrain(ctx, net)
	}
	if err != nil {
		return err
	}
	acc, err := TestAccuracy(ctx, m, net, test, r.plan.File.EvalBatch)
	if err != nil {
		return err
	}
	r.model, r.accuracy = m, acc.Plain[0]
	if acc.TTA != nil {
		r.ttaAccuracy = acc.TTA[0]
	}
	return nil
}

// pretrain pre-trains the group's network into the plan's model cache (or
// loads it from there), claimed so that runs sharing the cache do not train
// it twice: errNetworkHeld while another run holds it.
func (r *groupRun) pretrain(ctx context.Context, net experiments.Network) (*nets.Model, error) {
	key := r.plan.ModelKey(r.key.id, r.key.network, r.key.seed)
	cl, err := r.claim("network-" + key)
	if err != nil {
		return nil, err
	}
	if cl == nil {
		return nil, errNetworkHeld
	}
	defer r.claims.Release(cl)
	p := Pretraining{Network: net, Train: r.train, Seed: r.key.seed, Key: key,
		Checkpoint: r.plan.ModelPath(r.opts.Out, key), Progress: r.opts.Progress, Log: r.log}
	t0 := time.Now()
	m, hist, err := Pretrain(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("pre-training %s on %s: %w", r.key.network, r.key.id, err)
	}
	if len(hist) > 0 {
		r.log.Info("pre-trained", "network", r.key.network, "id", r.key.id, "seed", r.key.seed, "minutes", time.Since(t0).Minutes(), "checkpoint", p.Checkpoint)
	}
	return m, nil
}

// jobTrainer is the ood.Pretrainer a group gives its detectors: a job
// trains as the group's network does, checkpointed beside it in the model
// cache (models/<model key>+<job key>.ckpt).
type jobTrainer struct{ r *groupRun }

// Pretrain implements ood.Pretrainer: the job's images, the group's
// architecture and recipe, the entropy margin when the job asks for it.
func (j jobTrainer) Pretrain(ctx context.Context, job ood.TrainJob) (*nets.Model, error) {
	r := j.r
	if !validJobKey(job.Key) {
		return nil, fmt.Errorf("training job key %q: want letters, digits, '-', '_' and '.'", job.Key)
	}
	if job.Train == nil || !job.Train.Labelled() {
		return nil, fmt.Errorf("training job %s: no labelled images", job.Key)
	}
	net := r.plan.Network(r.key.network)
	if net.Recipe.Published() {
		return nil, fmt.Errorf("training job %s: network %s loads published weights (%s) and has no training recipe", job.Key, net.Name, net.Recipe.Weights)
	}
	seed := jobSeed(r.key.seed, job.Key)
	cfg, err := net.TrainConfig(seed)
	if err != nil {
		return nil, err
	}
	if job.Outliers != nil {
		batch := job.OutlierBatch
		if batch == 0 {
			batch = max(1, int(math.Round(float64(cfg.Batch)*float64(job.Outliers.Len())/float64(job.Train.Len()))))
		}
		cfg.EntropyMargin = &nets.EntropyMargin{Outliers: net.TrainingSet(job.Outliers, seed), Batch: batch,
			Margin: job.Margin, Weight: job.Weight}
	}
	key := r.plan.ModelKey(r.key.id, r.key.network, r.key.seed) + "+" + job.Key
	// Cells of other runs may need the same job: one trains it, the
	// others wait and load it from the cache.
	cl, err := r.claimWaiting(ctx, "network-"+key)
	if err != nil {
		return nil, err
	}
	defer r.claims.Release(cl)
	p := Pretraining{Network: net, Train: job.Train, Seed: seed, Key: key,
		Checkpoint: r.plan.ModelPath(r.opts.Out, key), Progress: r.opts.Progress, Log: r.log}
	t0 := time.Now()
	m, hist, err := p.train(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("training job %s: %w", job.Key, err)
	}
	if len(hist) > 0 {
		r.log.Info("trained", "job", job.Key, "network", r.key.network, "minutes", time.Since(t0).Minutes(), "checkpoint", p.Checkpoint)
	}
	return m, nil
}

func validJobKey(k string) bool {
	if k == "" || k == "." || k == ".." {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// jobSeed derives a training job's seed from the cell's and the job's key
// (FNV-1a), so that the jobs of one detector start from different weights.
func jobSeed(seed uint64, key string) uint64 {
	h := uint64(14695981039346656037)
	for _, b := range []byte(key) {
		h = (h ^ uint64(b)) * 1099511628211
	}
	return seed ^ h
}

// loadPublished builds the group's network and fills it from its published
// weights file, checked in the data pass. A file with one classifier (ODIN's
// DenseNet-BC-100) fills head 1, and head 2 becomes a copy of it, so that a
// detector reading either head reads the published classifier; MCD builds
// its second head itself (mcd.Config.Head2).
func (r *groupRun) loadPublished(net experiments.Network) (*nets.Model, error) {
	m, err := nets.New(net.Spec, r.train.Classes, r.key.seed)
	if err != nil {
		return nil, err
	}
	info, err := m.LoadTorch(r.weights)
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", net.Name, err)
	}
	if info.SHA256 != net.Recipe.WeightsSHA256 {
		// Checked in the data pass; the file changed since.
		return nil, fmt.Errorf("network %s: %s has sha256 %s, want %s (it changed after the data pass)", net.Name, r.weights, info.SHA256, net.Recipe.WeightsSHA256)
	}
	if !info.Head2 {
		if err := m.CopyHead(1, 2); err != nil {
			return nil, err
		}
	}
	r.log.Info("published network loaded", "network", net.Name, "weights", r.weights, "sha256", net.Recipe.WeightsSHA256)
	return m, nil
}
