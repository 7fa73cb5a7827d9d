// Package benchmarks runs an experiment plan: for each cell it gets the data,
// the pre-trained network (trained once and cached by a hash of everything
// that changes it), prepares the detector (fits, tunes or fine-tunes it),
// scores the ID and OOD test images, measures them and stores one record.
// Finished cells are skipped, so a killed run resumes where it stopped — a
// cell cut off in MCD's fine-tuning from its last checkpoint, under
// OUT/checkpoints (ood.Env.Checkpoint) — and a plan can be spread over
// machines with shards whose records are merged.
package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/mcdood/mcdood/experiments"
	"github.com/mcdood/mcdood/internal/progress"
	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/metrics"
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/ood"
	"github.com/mcdood/mcdood/results"
)

// Options are the parts of a run that do not change its results.
type Options struct {
	DataRoot string
	Out      string
	// Models is the pre-trained network cache; "" means Out/models.
	Models string
	// Shard and Shards pick every Shards-th cell starting at Shard (0-based),
	// for cluster array jobs; Shards ≤ 1 runs everything.
	Shard, Shards int
	Commit        string // source version, stored in records
	Machine       string // machine description, stored in records
	Progress      *progress.Reporter
	Log           *slog.Logger
	// Data is the data pass of this run (OpenData with these options); Run
	// makes it when nil.
	Data *Data
	// SkipBroken runs the other cells when a set is broken, and counts the
	// broken set's cells failed; without it a broken set stops the run
	// before any training (a *BrokenError).
	SkipBroken bool
	// Lock is the caller's claim on Out for this shard (results.LockDir);
	// Run takes one itself when nil, and fails when another run holds Out.
	Lock *results.Lock
}

// modelPath is where the network with this model key is cached.
func (o Options) modelPath(key string) string {
	dir := o.Models
	if dir == "" {
		dir = filepath.Join(o.Out, "models")
	}
	return filepath.Join(dir, key+".ckpt")
}

// checkpointPath is where a cell's detector keeps its resumable state
// (ood.Env.Checkpoint): OUT/checkpoints/<cell key>.ckpt, the key mapped to
// a file name as the store maps it. The key hashes the cell's configuration,
// so a changed configuration never meets an old checkpoint.
func (o Options) checkpointPath(key string) (string, error) {
	name, err := results.FileName(key)
	if err != nil {
		return "", err
	}
	return filepath.Join(o.Out, "checkpoints", name+".ckpt"), nil
}

// Summary says what a run did.
type Summary struct {
	Done, Skipped int
	// Missing lists OOD and ID sets whose data is absent (their cells are
	// skipped), with the command that fetches each.
	Missing []MissingSet
	// Failed lists the cells that could not be run (broken data, an error
	// of the detector); the other cells ran.
	Failed []FailedCell
	Data   *Data
	// Records is every record in Out, old and new, of this plan (whatever
	// its --ood, --methods or --seeds) and of any other, each checked
	// against its scores: the tables are rebuilt from all of them, so a
	// filtered run does not shrink them.
	Records []*results.Record
	// Unverified lists the record files of Records that could not be
	// checked (written before records carried a digest, and without a
	// scores file).
	Unverified []string
}

// MissingSet is an OOD or ID set the run could not find.
type MissingSet struct {
	Name  string
	Fetch string // the command that gets it
	Cells int
}

// FailedCell is a cell that could not be run, and why.
type FailedCell struct {
	Key string
	Err error
}

// groupKey gathers the cells that share a pre-trained network.
type groupKey struct {
	id, network string
	seed        uint64
}

// pendingCells are the plan's cells of this shard without a record, and how
// many have one.
func pendingCells(plan *experiments.Plan, opts Options) ([]experiments.Cell, int, error) {
	store, err := results.OpenStore(opts.Out)
	if err != nil {
		return nil, 0, err
	}
	var pending []experiments.Cell
	skipped := 0
	for i, c := range plan.Cells {
		if opts.Shards > 1 && i%opts.Shards != opts.Shard {
			continue
		}
		if store.Has(c.Key) {
			skipped++
			continue
		}
		pending = append(pending, c)
	}
	return pending, skipped, nil
}

// Run executes the plan's cells that have no record yet. It first claims
// Out (Options.Lock, results.LockDir): another run on the same cells there
// is an error naming it. Data problems are found before any training
// (Options.Data, OpenData): missing sets skip their cells, broken ones stop
// the run unless Options.SkipBroken. A cell that fails later is listed in
// Summary.Failed and the others go on; Run returns an error only for what
// stops every cell (a cancelled context, the results directory, a record
// that does not match its scores).
func Run(ctx context.Context, plan *experiments.Plan, opts Options) (*Summary, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Lock == nil {
		lock, err := results.LockDir(opts.Out, opts.Shard, opts.Shards)
		if err != nil {
			return nil, err
		}
		defer lock.Unlock()
	}
	store, err := results.OpenStore(opts.Out)
	if err != nil {
		return nil, err
	}
	data := opts.Data
	if data == nil {
		if data, err = OpenData(ctx, plan, opts); err != nil {
			return nil, err
		}
	}
	sum := &Summary{Data: data}
	if broken := data.Broken(); len(broken) > 0 && !opts.SkipBroken {
		return sum, &BrokenError{Sets: broken}
	}
	pending, skipped, err := pendingCells(plan, opts)
	if err != nil {
		return nil, err
	}
	sum.Skipped = skipped
	var order []groupKey
	groups := map[groupKey][]experiments.Cell{}
	for _, c := range pending {
		g := groupKey{c.ID, c.Network, c.Seed}
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], c)
	}
	missing := map[string]*MissingSet{}
	for _, g := range order {
		r := &groupRun{plan: plan, opts: opts, log: log, store: store, key: g, missing: missing, data: data, sum: sum}
		if err := r.run(ctx, groups[g]); err != nil {
			return sum, err
		}
	}
	for _, name := range sortedKeys(missing) {
		sum.Missing = append(sum.Missing, *missing[name])
	}
	if sum.Records, sum.Unverified, err = store.Checked(); err != nil {
		return sum, err
	}
	return sum, nil
}

// groupRun runs the cells of one (ID set, network, seed).
type groupRun struct {
	plan    *experiments.Plan
	opts    Options
	log     *slog.Logger
	store   *results.Store
	key     groupKey
	missing map[string]*MissingSet
	data    *Data
	sum     *Summary

	train, idVal, idTest *loaders.Dataset
	model                *nets.Model
	accuracy             float64 // head 1, on the images the detectors score
	ttaAccuracy          float64 // with the recipe's test-time augmentation (0: none)
	env                  *ood.Env
	ood                  map[string][2]*loaders.Dataset // val, test
	norm                 loaders.Normalization          // the network's input normalisation
	weights              string                         // a published network's checked file ("" when trained here)
}

// fail records cells that could not run.
func (r *groupRun) fail(err error, cells ...experiments.Cell) {
	for _, c := range cells {
		r.sum.Failed = append(r.sum.Failed, FailedCell{Key: c.Key, Err: err})
		r.log.Error("cell failed", "key", c.Key, "error", err)
	}
}

// run runs the group's cells; it returns an error only when the run must
// stop (a cancelled context, a store that cannot be written).
func (r *groupRun) run(ctx context.Context, cells []experiments.Cell) error {
	f := r.plan.File
	id := r.data.find("ID", r.key.id, 0)
	switch id.Status {
	case Missing:
		r.miss(r.key.id, len(cells))
		return nil
	case Broken:
		r.fail(fmt.Errorf("ID set %s: %s", r.key.id, id.Problem), cells...)
		return nil
	}
	r.train = id.train
	var err error
	if id.valPool != nil {
		// id_validation = "after-test-images": every capped test image is
		// scored; validation images come from the images after them.
		r.idTest = id.test
		r.idVal, _, err = loaders.Split(id.valPool, f.Validation, f.SplitSeed)
	} else {
		r.idVal, r.idTest, err = loaders.Split(id.test, f.Validation, f.SplitSeed)
	}
	if err != nil {
		r.fail(err, cells...)
		return nil
	}
	net := r.plan.Network(r.key.network)
	r.norm = net.Normalization()
	if net.Recipe.Published() {
		w := r.data.find(RoleWeights, net.Name, 0)
		switch {
		case w == nil:
			r.fail(fmt.Errorf("weights of %s were not in the data pass", net.Name), cells...)
			return nil
		case w.Status == Missing:
			r.miss(net.Recipe.Weights, len(cells))
			return nil
		case w.Status == Broken:
			r.fail(fmt.Errorf("weights of %s: %s", net.Name, w.Problem), cells...)
			return nil
		}
		r.weights = w.weights
	}
	// Accuracy is measured on the whole (capped) ID test set: with the
	// paper's split that includes the validation images, as it always has.
	if err := r.pretrain(ctx, id.test); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.fail(err, cells...)
		return nil
	}
	r.env = &ood.Env{Model: r.model, Norm: r.norm, Batch: f.EvalBatch, Seed: r.key.seed,
		Progress: r.opts.Progress, Log: r.log, Memo: &ood.Memo{}}
	r.ood = map[string][2]*loaders.Dataset{}
	for _, c := range cells {
		if err := ctx.Err(); err != nil {
			return err
		}
		ok, err := r.cell(ctx, c)
		if ok && err == nil {
			// Its record is written: done, even when the run was
			// cancelled just after.
			r.sum.Done++
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, errStore):
			return fmt.Errorf("cell %s: %w", c.Key, err)
		case err != nil:
			r.fail(err, c)
		}
	}
	return nil
}

// errStore marks a failure to write the results directory: it stops the run.
var errStore = errors.New("writing results")

func (r *groupRun) miss(name string, cells int) {
	m, ok := r.missing[name]
	if !ok {
		m = &MissingSet{Name: name, Fetch: fetchCommand(r.opts.DataRoot, name)}
		r.missing[name] = m
		r.log.Warn("data set missing; its cells are skipped", "set", name, "fetch", m.Fetch)
	}
	m.Cells += cells
}

// pretrain trains the group's network, or loads it from the model cache,
// or loads a published network from its weights file; then measures its
// accuracy on the ID images the detectors score.
func (r *groupRun) pretrain(ctx context.Context, test *loaders.Dataset) error {
	net := r.plan.Network(r.key.network)
	var m *nets.Model
	if r.weights != "" {
		var err error
		if m, err = r.loadPublished(net); err != nil {
			return err
		}
	} else {
		cfg, err := net.TrainConfig(r.key.seed)
		if err != nil {
			return err
		}
		mkey := r.plan.ModelKey(r.key.id, r.key.network, r.key.seed)
		path := r.opts.modelPath(mkey)
		t0 := time.Now()
		var hist []nets.EpochStats
		m, hist, err = nets.Train(ctx, net.Spec, net.TrainingSet(r.train, r.key.seed), cfg, nets.TrainOptions{
			Checkpoint: path, Meta: map[string]string{"recipe": mkey}, Progress: r.opts.Progress, Log: r.log,
		})
		if err != nil {
			return fmt.Errorf("pre-training %s on %s: %w", r.key.network, r.key.id, err)
		}
		if len(hist) > 0 {
			r.log.Info("pre-trained", "network", r.key.network, "id", r.key.id, "seed", r.key.seed, "minutes", time.Since(t0).Minutes(), "checkpoint", path)
		}
	}
	testSet := loaders.Batches{Set: test, Norm: r.norm}
	out, err := nets.Predict(ctx, m, testSet, nets.PredictOptions{Batch: r.plan.File.EvalBatch})
	if err != nil {
		return err
	}
	r.model, r.accuracy = m, out.Accuracy(test.Labels)[0]
	if tta := net.Recipe.TTA; tta > 0 {
		out, err := nets.Predict(ctx, m, testSet, nets.PredictOptions{Batch: r.plan.File.EvalBatch, TTA: tta})
		if err != nil {
			return err
		}
		r.ttaAccuracy = out.Accuracy(test.Labels)[0]
	}
	return nil
}

// Pretrain implements ood.Pretrainer for the group's cells: the job's
// images, the group's architecture and recipe, a checkpoint beside the
// group's network in the model cache (models/<model key>+<job key>.ckpt).
func (r *groupRun) Pretrain(ctx context.Context, job ood.TrainJob) (*nets.Model, error) {
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
	path := r.opts.modelPath(key)
	t0 := time.Now()
	m, hist, err := nets.Train(ctx, net.Spec, net.TrainingSet(job.Train, seed), cfg, nets.TrainOptions{
		Checkpoint: path, Meta: map[string]string{"recipe": key}, Progress: r.opts.Progress, Log: r.log,
	})
	if err != nil {
		return nil, fmt.Errorf("training job %s: %w", job.Key, err)
	}
	if len(hist) > 0 {
		r.log.Info("trained", "job", job.Key, "network", r.key.network, "minutes", time.Since(t0).Minutes(), "checkpoint", path)
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

// oodSplit splits an OOD set of the data pass, once per group; a missing
// set is loaders.ErrNotFound.
func (r *groupRun) oodSplit(name string) (val, test *loaders.Dataset, err error) {
	if s, ok := r.ood[name]; ok {
		return s[0], s[1], nil
	}
	s := r.data.find("OOD", name, r.key.seed)
	switch {
	case s == nil:
		return nil, nil, fmt.Errorf("OOD set %s (seed %d) was not in the data pass", name, r.key.seed)
	case s.Status == Missing:
		return nil, nil, fmt.Errorf("%s: %w", s.Problem, loaders.ErrNotFound)
	case s.Status == Broken:
		return nil, nil, fmt.Errorf("OOD set %s: %s", name, s.Problem)
	}
	if val, test, err = loaders.Split(s.test, r.plan.File.Validation, r.plan.File.SplitSeed); err != nil {
		return nil, nil, err
	}
	r.ood[name] = [2]*loaders.Dataset{val, test}
	return val, test, nil
}

// cell runs one cell; false when its data is missing.
func (r *groupRun) cell(ctx context.Context, c experiments.Cell) (bool, error) {
	f := r.plan.File
	oodVal, oodTest, err := r.oodSplit(c.OOD)
	if errors.Is(err, loaders.ErrNotFound) {
		r.miss(c.OOD, 1)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	setting := ood.Setting(c.Setting)
	var other *loaders.Dataset
	if setting == ood.Cross {
		name := r.plan.CrossPool(c.OOD)
		if name == "" || name == c.OOD {
			return false, fmt.Errorf("cross setting of %s: pool set %q is not another OOD set", c.OOD, name)
		}
		if _, other, err = r.oodSplit(name); err != nil {
			if errors.Is(err, loaders.ErrNotFound) {
				r.miss(name, 1)
				return false, nil
			}
			return false, err
		}
	}
	pool, idScore, oodScore, err := setting.Pool(r.idTest, oodTest, other, f.SplitSeed)
	if err != nil {
		return false, err
	}
	method := r.plan.Method(c.Method)
	det, err := method.Build()
	if err != nil {
		return false, err
	}
	rec := &results.Record{Key: c.Key, Group: c.Group, Plan: r.plan.Name, ID: c.ID, Network: c.Network, OOD: c.OOD, Method: c.Method,
		Detector: method.Detector, Setting: c.Setting, Seed: c.Seed, Accuracy: r.accuracy, TTAAccuracy: r.ttaAccuracy,
		Commit: r.opts.Commit, Machine: r.opts.Machine, BLAS: nets.BLAS(), Kernels: nets.Kernels(), Conv: nets.Conv(), Threads: nets.Threads(), Started: time.Now().UTC(),
		Seconds: map[string]float64{}}
	rec.Config = r.config(c, method)
	rec.Counts = results.Counts{IDTest: idScore.Len(), OODTest: oodScore.Len(), IDVal: r.idVal.Len(), OODVal: oodVal.Len(), Unlabelled: pool.Len()}
	r.log.Info("cell", "key", c.Key)

	data := &ood.Data{Train: r.train, IDVal: r.idVal, OODVal: oodVal, Unlabelled: pool, Setting: setting}
	// A detector that trains for long (MCD) checkpoints as it goes, and a
	// rerun of the cell after a kill resumes from the checkpoint; it is
	// removed once the record is written.
	env := *r.env
	if env.Checkpoint, err = r.opts.checkpointPath(c.Key); err != nil {
		return false, err
	}
	if t, ok := det.(ood.Trainer); ok {
		t0 := time.Now()
		if err := t.Train(ctx, &env, data, r); err != nil {
			return false, fmt.Errorf("train %s: %w", c.Method, err)
		}
		rec.Seconds["train"] = time.Since(t0).Seconds()
	}
	if p, ok := det.(ood.Preparer); ok {
		t0 := time.Now()
		if err := p.Prepare(ctx, &env, data); err != nil {
			return false, fmt.Errorf("prepare %s: %w", c.Method, err)
		}
		rec.Seconds["prepare"] = time.Since(t0).Seconds()
	}
	t0 := time.Now()
	idScores, err := det.Score(ctx, &env, idScore)
	if err != nil {
		return false, fmt.Errorf("score %s on %s: %w", c.Method, idScore.Name, err)
	}
	rec.Seconds["score_id"] = time.Since(t0).Seconds()
	t0 = time.Now()
	oodScores, err := det.Score(ctx, &env, oodScore)
	if err != nil {
		return false, fmt.Errorf("score %s on %s: %w", c.Method, oodScore.Name, err)
	}
	rec.Seconds["score_ood"] = time.Since(t0).Seconds()

	if rec.Metrics, err = metrics.Compute(idScores, oodScores); err != nil {
		return false, fmt.Errorf("metrics: %w", err)
	}
	paper, err := metrics.ComputePaper(idScores, oodScores)
	if err != nil {
		return false, fmt.Errorf("paper-mode metrics: %w", err)
	}
	rec.Paper = &paper.Report
	oodPositive, err := metrics.FPR95OODPositive(idScores, oodScores)
	if err != nil {
		return false, fmt.Errorf("OOD-positive FPR@95: %w", err)
	}
	rec.FPR95OODPositive = &oodPositive
	if paper.FPR95Fallback {
		rec.Warnings = append(rec.Warnings, "paper-mode FPR95: no threshold had TPR in [0.9495, 0.9505]; the exact value is shown")
	}
	if f.Bootstrap > 0 {
		ci, err := metrics.Bootstrap(idScores, oodScores, metrics.BootstrapConfig{Mode: metrics.Exact, Resamples: f.Bootstrap,
			Level: 0.95, Seed: c.Seed})
		if err != nil {
			return false, fmt.Errorf("bootstrap: %w", err)
		}
		rec.CI = &ci
	}
	if rp, ok := det.(ood.Reporter); ok {
		for _, n := range rp.Notes() {
			rec.Notes = append(rec.Notes, results.Note{Key: n.Key, Value: n.Value})
		}
	}
	rec.Warnings = append(rec.Warnings, r.warnings()...)
	if w, ok := det.(ood.Warner); ok {
		rec.Warnings = append(rec.Warnings, w.Warnings()...)
	}
	if err := r.store.PutScores(c.Key, idScores, oodScores); err != nil {
		return false, fmt.Errorf("%w: %w", errStore, err)
	}
	if err := r.store.Put(rec); err != nil {
		return false, fmt.Errorf("%w: %w", errStore, err)
	}
	if err := os.Remove(env.Checkpoint); err != nil && !errors.Is(err, fs.ErrNotExist) {
		r.log.Warn("cell done, but its checkpoint could not be removed", "key", c.Key, "checkpoint", env.Checkpoint, "error", err)
	}
	r.log.Info("cell done", "key", c.Key, "auroc", rec.Metrics.AUROC, "fpr95", rec.Metrics.FPR95)
	return true, nil
}

// config lists everything that shaped a cell's result, for its record.
func (r *groupRun) config(c experiments.Cell, m experiments.Method) map[string]string {
	f := r.plan.File
	net := r.plan.Network(c.Network)
	src, _ := loaders.Locate(c.OOD, r.opts.DataRoot, loaders.Options{Custom: r.plan.Custom})
	oodSource := src.Path
	if oodSource == "" {
		oodSource = "generated"
	}
	if src.Derived {
		oodSource += fmt.Sprintf(" (derived, fit %s)", src.Fit)
	}
	cfg := map[string]string{
		"plan_file":       r.plan.Source,
		"model":           r.plan.ModelKey(c.ID, c.Network, c.Seed),
		"recipe":          fmt.Sprintf("%+v", net.Recipe),
		"method":          m.Canonical(),
		"validation":      strconv.Itoa(f.Validation),
		"split_seed":      strconv.Itoa(int(f.SplitSeed)),
		"train_images":    strconv.Itoa(r.train.Len()),
		"ood_source":      oodSource,
		"data_root":       r.opts.DataRoot,
		"model_selection": "see notes",
		"id_validation":   f.IDValidation,
	}
	if net.Recipe.Published() {
		cfg["weights"], cfg["weights_sha256"], cfg["weights_file"] = net.Recipe.Weights, net.Recipe.WeightsSHA256, r.weights
	}
	return cfg
}

// warnings flag what a reader of the group's numbers should know.
func (r *groupRun) warnings() []string {
	f := r.plan.File
	var w []string
	if f.TrainImages > 0 || f.TestImages > 0 || f.OODImages > 0 {
		w = append(w, fmt.Sprintf("subsampled data (train_images %d, test_images %d, ood_images %d): not comparable with the paper", f.TrainImages, f.TestImages, f.OODImages))
	}
	if f.IDValidation == experiments.IDValidationAfterTest {
		w = append(w, fmt.Sprintf("ID validation images are drawn from the test images after the first %d, which are scored (on the data mirror those carry JPEG error)", f.TestImages))
	}
	if math.IsNaN(r.accuracy) {
		w = append(w, "no test accuracy")
	}
	return w
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

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
