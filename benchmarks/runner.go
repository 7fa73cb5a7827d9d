// Package benchmarks runs an experiment plan: for each cell it gets the data,
// the pre-trained network (trained once and cached by a hash of everything
// that changes it), prepares the detector (fits, tunes or fine-tunes it),
// scores the ID and OOD test images, measures them and stores one record.
// Finished cells are skipped, so a killed run resumes where it stopped, and
// a plan can be spread over machines with shards whose records are merged.
package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
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
	// Shard and Shards pick every Shards-th cell starting at Shard (0-based),
	// for cluster array jobs; Shards ≤ 1 runs everything.
	Shard, Shards int
	Commit        string // source version, stored in records
	Machine       string // machine description, stored in records
	Progress      *progress.Reporter
	Log           *slog.Logger
}

// Summary says what a run did.
type Summary struct {
	Done, Skipped int
	// Missing lists OOD sets whose data is absent (their cells are skipped),
	// with the command that fetches each.
	Missing []MissingSet
	Records []*results.Record // every record of the plan in the store, old and new
}

// MissingSet is an OOD or ID set the run could not find.
type MissingSet struct {
	Name  string
	Fetch string // the command that gets it
	Cells int
}

// groupKey gathers the cells that share a pre-trained network.
type groupKey struct {
	id, network string
	seed        uint64
}

// Run executes the plan's cells that have no record yet.
func Run(ctx context.Context, plan *experiments.Plan, opts Options) (*Summary, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	store, err := results.OpenStore(opts.Out)
	if err != nil {
		return nil, err
	}
	sum := &Summary{}
	var order []groupKey
	pending := map[groupKey][]experiments.Cell{}
	for i, c := range plan.Cells {
		if opts.Shards > 1 && i%opts.Shards != opts.Shard {
			continue
		}
		if store.Has(c.Key) {
			sum.Skipped++
			continue
		}
		g := groupKey{c.ID, c.Network, c.Seed}
		if _, ok := pending[g]; !ok {
			order = append(order, g)
		}
		pending[g] = append(pending[g], c)
	}
	missing := map[string]*MissingSet{}
	for _, g := range order {
		r := &groupRun{plan: plan, opts: opts, log: log, store: store, key: g, missing: missing}
		n, err := r.run(ctx, pending[g])
		sum.Done += n
		if err != nil {
			return sum, err
		}
	}
	for _, name := range sortedKeys(missing) {
		sum.Missing = append(sum.Missing, *missing[name])
	}
	all, err := store.All()
	if err != nil {
		return sum, err
	}
	inPlan := map[string]bool{}
	for _, c := range plan.Cells {
		inPlan[c.Key] = true
	}
	for _, rec := range all {
		if inPlan[rec.Key] {
			sum.Records = append(sum.Records, rec)
		}
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

	train, idVal, idTest *loaders.Dataset
	model                *nets.Model
	accuracy             float64 // head 1, on the images the detectors score
	ttaAccuracy          float64 // with the recipe's test-time augmentation (0: none)
	env                  *ood.Env
	ood                  map[string][2]*loaders.Dataset // val, test
}

func (r *groupRun) run(ctx context.Context, cells []experiments.Cell) (done int, err error) {
	f := r.plan.File
	train, test, err := loaders.OpenID(r.key.id, r.opts.DataRoot)
	if errors.Is(err, loaders.ErrNotFound) {
		r.miss(r.key.id, len(cells))
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	train, test = capSet(train, f.TrainImages), capSet(test, f.TestImages)
	r.train = train
	if r.idVal, r.idTest, err = loaders.Split(test, f.Validation, f.SplitSeed); err != nil {
		return 0, err
	}
	if err := r.pretrain(ctx, test); err != nil {
		return 0, err
	}
	r.env = &ood.Env{Model: r.model, Norm: loaders.CIFARNormalization, Batch: f.EvalBatch, Seed: r.key.seed,
		Progress: r.opts.Progress, Log: r.log, Memo: &ood.Memo{}}
	r.ood = map[string][2]*loaders.Dataset{}
	for _, c := range cells {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		ok, err := r.cell(ctx, c)
		if err != nil {
			return done, fmt.Errorf("cell %s: %w", c.Key, err)
		}
		if ok {
			done++
		}
	}
	return done, nil
}

func (r *groupRun) miss(name string, cells int) {
	m, ok := r.missing[name]
	if !ok {
		m = &MissingSet{Name: name, Fetch: fmt.Sprintf("mcdood data fetch --data %s %s", r.opts.DataRoot, name)}
		r.missing[name] = m
		r.log.Warn("data set missing; its cells are skipped", "set", name, "fetch", m.Fetch)
	}
	m.Cells += cells
}

// pretrain trains the group's network, or loads it from the model cache.
func (r *groupRun) pretrain(ctx context.Context, test *loaders.Dataset) error {
	net := r.plan.Network(r.key.network)
	cfg, err := net.TrainConfig(r.key.seed)
	if err != nil {
		return err
	}
	mkey := r.plan.ModelKey(r.key.id, r.key.network, r.key.seed)
	path := filepath.Join(r.opts.Out, "models", mkey+".ckpt")
	t0 := time.Now()
	m, hist, err := nets.Train(ctx, net.Spec, net.TrainingSet(r.train, r.key.seed), cfg, nets.TrainOptions{
		Checkpoint: path, Meta: map[string]string{"recipe": mkey}, Progress: r.opts.Progress, Log: r.log,
	})
	if err != nil {
		return fmt.Errorf("pre-training %s on %s: %w", r.key.network, r.key.id, err)
	}
	if len(hist) > 0 {
		r.log.Info("pre-trained", "network", r.key.network, "id", r.key.id, "seed", r.key.seed, "minutes", time.Since(t0).Minutes(), "checkpoint", path)
	}
	testSet := loaders.Batches{Set: test, Norm: loaders.CIFARNormalization}
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

// oodSplit loads an OOD set once per group and splits it.
func (r *groupRun) oodSplit(name string) (val, test *loaders.Dataset, err error) {
	if s, ok := r.ood[name]; ok {
		return s[0], s[1], nil
	}
	f := r.plan.File
	d, err := loaders.Open(name, r.opts.DataRoot, loaders.Options{Seed: r.key.seed, NoiseImages: f.NoiseImages,
		Custom: r.plan.Custom, Progress: r.opts.Progress})
	if err != nil {
		return nil, nil, err
	}
	d = capSet(d, f.OODImages)
	if val, test, err = loaders.Split(d, f.Validation, f.SplitSeed); err != nil {
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
		name := f.CrossPool
		if name == c.OOD {
			name = nextOOD(f.OOD, c.OOD)
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
		Commit: r.opts.Commit, Machine: r.opts.Machine, BLAS: nets.BLAS(), Kernels: nets.Kernels(), Started: time.Now().UTC(),
		Seconds: map[string]float64{}}
	rec.Config = r.config(c, method)
	rec.Counts = results.Counts{IDTest: idScore.Len(), OODTest: oodScore.Len(), IDVal: r.idVal.Len(), OODVal: oodVal.Len(), Unlabelled: pool.Len()}
	r.log.Info("cell", "key", c.Key)

	if p, ok := det.(ood.Preparer); ok {
		t0 := time.Now()
		data := &ood.Data{Train: r.train, IDVal: r.idVal, OODVal: oodVal, Unlabelled: pool, Setting: setting}
		if err := p.Prepare(ctx, r.env, data); err != nil {
			return false, fmt.Errorf("prepare %s: %w", c.Method, err)
		}
		rec.Seconds["prepare"] = time.Since(t0).Seconds()
	}
	t0 := time.Now()
	idScores, err := det.Score(ctx, r.env, idScore)
	if err != nil {
		return false, fmt.Errorf("score %s on %s: %w", c.Method, idScore.Name, err)
	}
	rec.Seconds["score_id"] = time.Since(t0).Seconds()
	t0 = time.Now()
	oodScores, err := det.Score(ctx, r.env, oodScore)
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
		return false, err
	}
	if err := r.store.Put(rec); err != nil {
		return false, err
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
	return map[string]string{
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
	}
}

// warnings flag what a reader of the group's numbers should know.
func (r *groupRun) warnings() []string {
	f := r.plan.File
	var w []string
	if f.TrainImages > 0 || f.TestImages > 0 || f.OODImages > 0 {
		w = append(w, fmt.Sprintf("subsampled data (train_images %d, test_images %d, ood_images %d): not comparable with the paper", f.TrainImages, f.TestImages, f.OODImages))
	}
	if math.IsNaN(r.accuracy) {
		w = append(w, "no test accuracy")
	}
	return w
}

func capSet(d *loaders.Dataset, n int) *loaders.Dataset {
	if n <= 0 || d.Len() <= n {
		return d
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return d.Subset(d.Name, idx)
}

func nextOOD(list []string, name string) string {
	for i, n := range list {
		if n == name {
			return list[(i+1)%len(list)]
		}
	}
	return list[0]
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
