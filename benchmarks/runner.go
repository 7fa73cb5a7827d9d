// Package benchmarks is the runner: it runs experiment plans. For each cell
// of a plan it gets the data,
// the pre-trained network (trained once and cached by a hash of everything
// that changes it), prepares the detector (fits, tunes or fine-tunes it),
// scores the ID and OOD test images, measures them and stores one record.
// Finished cells are skipped, so a killed run resumes where it stopped — a
// cell cut off in MCD's fine-tuning from its last checkpoint, under
// OUT/checkpoints (ood.Env.Checkpoint). Any number of runs on one machine or
// many may share one output folder: each claims a cell, or a network to
// pre-train, before computing it (results.Claimer), so each is computed
// once. Runs that cannot share a folder take shards, whose folders are
// merged (results.Merge).
package benchmarks

import (
	"cmp"
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
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/ood"
	"github.com/mcdood/mcdood/results"
)

// Options are the parts of a run that do not change its results.
type Options struct {
	DataRoot string
	Out      string // the plan's pre-trained networks go to Plan.ModelPath(Out, …)
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
	// Claims tunes the claims by which any number of runs share Out, each
	// cell computed by one of them (results.Claimer); zero values take
	// its defaults.
	Claims results.ClaimOptions
	// CheckpointEvery is ood.Env.CheckpointEvery: steps between the
	// checkpoints of a long-training detector whose plan sets none.
	CheckpointEvery int
	// Poll is how often a run whose remaining cells are all held by other
	// runs looks again (default 10 s).
	Poll time.Duration
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
	// Done counts the cells this run computed, Skipped those recorded
	// before it started, Others those other runs on Out recorded while it
	// ran.
	Done, Skipped, Others int
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

// Run executes the plan's cells that have no record yet. Any number of
// runs may share Out, on one machine or several (a shared file system):
// each claims a cell before computing it (results.Claimer), so no cell is
// computed twice, and a cell whose run died is taken over and resumes from
// its checkpoint. When the cells left are all held by other runs, Run
// waits for them (Options.Poll), so every run ends with every record.
// Data problems are found before any training (Options.Data, OpenData):
// missing sets skip their cells, broken ones stop the run unless
// Options.SkipBroken. A cell that fails later is listed in Summary.Failed
// and the others go on; Run returns an error only for what stops every
// cell (a cancelled context, the results directory, a record that does not
// match its scores).
func Run(ctx context.Context, plan *experiments.Plan, opts Options) (*Summary, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
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
	claims, err := results.NewClaimer(opts.Out, opts.Claims)
	if err != nil {
		return nil, err
	}
	defer claims.Close()
	w := &worker{plan: plan, opts: opts, log: log, store: store, data: data, sum: sum,
		claims: claims, missing: map[string]*MissingSet{}, settled: map[string]bool{}}
	if err := w.run(ctx); err != nil {
		return sum, err
	}
	if sum.Done == 0 && len(sum.Failed) == 0 {
		claims.Discard() // nothing to show for its claims: leave no trace
	}
	for _, name := range sortedKeys(w.missing) {
		sum.Missing = append(sum.Missing, *w.missing[name])
	}
	if sum.Records, sum.Unverified, err = store.Checked(); err != nil {
		return sum, err
	}
	return sum, nil
}

// worker is one run's share of a plan on an output folder that other runs
// may share.
type worker struct {
	plan    *experiments.Plan
	opts    Options
	log     *slog.Logger
	store   *results.Store
	data    *Data
	sum     *Summary
	claims  *results.Claimer
	missing map[string]*MissingSet
	// settled are the cells this run has done with: computed, failed, or
	// skipped for missing data; they are not tried again.
	settled map[string]bool
}

// run passes over the pending cells, group by group, until none is left
// that this run has not settled; between passes that found every cell left
// held by other runs it waits.
func (w *worker) run(ctx context.Context) error {
	for pass := 0; ; pass++ {
		pending, skipped, err := pendingCells(w.plan, w.opts)
		if err != nil {
			return err
		}
		if pass == 0 {
			w.sum.Skipped = skipped
		} else {
			w.sum.Others = skipped - w.sum.Skipped - w.sum.Done
		}
		var order []groupKey
		groups := map[groupKey][]experiments.Cell{}
		for _, c := range pending {
			if w.settled[c.Key] {
				continue
			}
			g := groupKey{c.ID, c.Network, c.Seed}
			if _, ok := groups[g]; !ok {
				order = append(order, g)
			}
			groups[g] = append(groups[g], c)
		}
		if len(order) == 0 {
			return nil
		}
		busy, progressed := 0, false
		for _, g := range order {
			r := &groupRun{worker: w, key: g}
			n, err := r.run(ctx, groups[g])
			if err != nil {
				return err
			}
			busy += n
			progressed = progressed || n < len(groups[g])
		}
		if busy > 0 && !progressed {
			w.log.Info("waiting for cells other runs hold", "cells", busy, "worker", w.claims.Worker())
			if err := sleep(ctx, w.poll()); err != nil {
				return err
			}
		}
	}
}

// claimWaiting claims key, waiting while other runs hold it.
func (w *worker) claimWaiting(ctx context.Context, key string) (*results.Claim, error) {
	for {
		cl, err := w.claim(key)
		if cl != nil || err != nil {
			return cl, err
		}
		if err := sleep(ctx, w.poll()); err != nil {
			return nil, err
		}
	}
}

func (w *worker) poll() time.Duration { return cmp.Or(w.opts.Poll, 10*time.Second) }

// sleep waits for d or the context's end.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// claim claims key (a cell's or a network's) for this run: nil when
// another run holds it.
func (w *worker) claim(key string) (*results.Claim, error) {
	name, err := results.FileName(key)
	if err != nil {
		return nil, err
	}
	cl, err := w.claims.TryClaim(name)
	if errors.Is(err, results.ErrClaimHeld) {
		return nil, nil
	}
	return cl, err
}

// groupRun runs the cells of one (ID set, network, seed).
type groupRun struct {
	*worker
	key groupKey

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
		r.settled[c.Key] = true
		r.sum.Failed = append(r.sum.Failed, FailedCell{Key: c.Key, Err: err})
		r.log.Error("cell failed", "key", c.Key, "error", err)
	}
}

// run runs the group's cells that no other run holds, claiming each before
// it starts, and returns how many other runs held (with the cells left
// when another run pre-trains the group's network). It returns an error
// only when the run must stop (a cancelled context, a store that cannot be
// written).
func (r *groupRun) run(ctx context.Context, cells []experiments.Cell) (busy int, err error) {
	for i, c := range cells {
		if err := ctx.Err(); err != nil {
			return busy, err
		}
		cl, err := r.claim(c.Key)
		if err != nil {
			return busy, err
		}
		if cl == nil {
			busy++
			continue
		}
		if r.store.Has(c.Key) {
			// Another run recorded it between this pass's listing and
			// the claim.
			r.claims.Release(cl)
			continue
		}
		ok, err := r.claimed(ctx, c, r.env == nil, cells[i:])
		if ok && err == nil {
			r.claims.Done(cl)
		} else {
			r.claims.Release(cl)
		}
		switch {
		case errors.Is(err, errNetworkHeld):
			return busy + len(cells) - i, nil
		case errors.Is(err, errGroupSettled):
			return busy, nil
		case ok && err == nil:
			// Its record is written: done, even when the run was
			// cancelled just after.
			r.sum.Done++
			r.settled[c.Key] = true
		case ctx.Err() != nil:
			return busy, ctx.Err()
		case errors.Is(err, errStore):
			return busy, fmt.Errorf("cell %s: %w", c.Key, err)
		case err != nil:
			r.fail(err, c)
		default:
			r.settled[c.Key] = true // its data is missing
		}
	}
	return busy, nil
}

var (
	// errNetworkHeld: another run is pre-training the group's network.
	errNetworkHeld = errors.New("the network is being pre-trained by another run")
	// errGroupSettled: the group's data or network failed, and every
	// cell left with it.
	errGroupSettled = errors.New("the group's cells are settled")
)

// claimed runs cell c, claimed by this run; first (the group's network not
// loaded yet) prepares the group for it and the cells left after it.
func (r *groupRun) claimed(ctx context.Context, c experiments.Cell, first bool, left []experiments.Cell) (bool, error) {
	if first {
		if err := r.prepare(ctx, left); err != nil {
			return false, err
		}
	}
	return r.cell(ctx, c)
}

// prepare gets the group's data and network; when they cannot be had, the
// cells left are settled (missing or failed) and it says so with
// errGroupSettled.
func (r *groupRun) prepare(ctx context.Context, cells []experiments.Cell) error {
	f := r.plan.File
	id := r.data.find(loaders.RoleID, r.key.id, 0)
	switch id.Status {
	case loaders.Missing:
		r.miss(r.key.id, cells...)
		return errGroupSettled
	case loaders.Broken:
		r.fail(fmt.Errorf("ID set %s: %s", r.key.id, id.Problem), cells...)
		return errGroupSettled
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
		return errGroupSettled
	}
	net := r.plan.Network(r.key.network)
	r.norm = net.Normalization()
	if net.Recipe.Published() {
		w := r.data.find(loaders.RoleWeights, net.Name, 0)
		switch {
		case w == nil:
			r.fail(fmt.Errorf("weights of %s were not in the data pass", net.Name), cells...)
			return errGroupSettled
		case w.Status == loaders.Missing:
			r.miss(net.Recipe.Weights, cells...)
			return errGroupSettled
		case w.Status == loaders.Broken:
			r.fail(fmt.Errorf("weights of %s: %s", net.Name, w.Problem), cells...)
			return errGroupSettled
		}
		r.weights = w.weights
	}
	// Accuracy is measured on the whole (capped) ID test set: with the
	// paper's split that includes the validation images, as it always has.
	if err := r.loadNetwork(ctx, id.test); err != nil {
		if ctx.Err() != nil || errors.Is(err, errNetworkHeld) {
			return err
		}
		r.fail(err, cells...)
		return errGroupSettled
	}
	r.env = &ood.Env{Model: r.model, Norm: r.norm, Batch: f.EvalBatch, Seed: r.key.seed,
		Progress: r.opts.Progress, Log: r.log, Memo: &ood.Memo{}, CheckpointEvery: r.opts.CheckpointEvery}
	r.ood = map[string][2]*loaders.Dataset{}
	return nil
}

// errStore marks a failure to write the results directory: it stops the run.
var errStore = errors.New("writing results")

// miss counts cells skipped for a missing set, and settles them.
func (r *groupRun) miss(name string, cells ...experiments.Cell) {
	m, ok := r.missing[name]
	if !ok {
		fetch := name // a derived set is fetched by its source's name
		for _, s := range r.data.Sets {
			if s.Name == name && s.Fetch != "" {
				fetch = s.Fetch
				break
			}
		}
		m = &MissingSet{Name: name, Fetch: loaders.FetchCommand(r.opts.DataRoot, fetch)}
		r.missing[name] = m
		r.log.Warn("data set missing; its cells are skipped", "set", name, "fetch", m.Fetch)
	}
	m.Cells += len(cells)
	for _, c := range cells {
		r.settled[c.Key] = true
	}
}

// oodSplit splits an OOD set of the data pass, once per group; a missing
// set is loaders.ErrNotFound.
func (r *groupRun) oodSplit(name string) (val, test *loaders.Dataset, err error) {
	if s, ok := r.ood[name]; ok {
		return s[0], s[1], nil
	}
	s := r.data.find(loaders.RoleOOD, name, r.key.seed)
	switch {
	case s == nil:
		return nil, nil, fmt.Errorf("OOD set %s (seed %d) was not in the data pass", name, r.key.seed)
	case s.Status == loaders.Missing:
		return nil, nil, fmt.Errorf("%s: %w", s.Problem, loaders.ErrNotFound)
	case s.Status == loaders.Broken:
		return nil, nil, fmt.Errorf("OOD set %s: %s", name, s.Problem)
	}
	if val, test, err = loaders.Split(s.test, r.plan.File.Validation, r.plan.File.SplitSeed); err != nil {
		return nil, nil, err
	}
	r.ood[name] = [2]*loaders.Dataset{val, test}
	return val, test, nil
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
