package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/mcdood/mcdood/experiments"
	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/metrics"
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/ood"
	"github.com/mcdood/mcdood/results"
)

// cellData is what a cell's detector sees and scores.
type cellData struct {
	*ood.Data
	idScore, oodScore *loaders.Dataset // the test images scored
}

// cell runs one cell: its detector on its data, then its record; false
// when its data is missing.
func (r *groupRun) cell(ctx context.Context, c experiments.Cell) (bool, error) {
	d, err := r.cellData(c)
	if d == nil || err != nil {
		return false, err
	}
	method := r.plan.Method(c.Method)
	det, err := method.Build()
	if err != nil {
		return false, err
	}
	rec := r.newRecord(c, method, d)
	r.log.Info("cell", "key", c.Key)
	// A detector that trains for long (MCD) checkpoints as it goes, and a
	// rerun of the cell after a kill resumes from the checkpoint; it is
	// removed once the record is written.
	env := *r.env
	if env.Checkpoint, err = r.opts.checkpointPath(c.Key); err != nil {
		return false, err
	}
	idScores, oodScores, err := r.runDetector(ctx, det, &env, d, c.Method, rec.Seconds)
	if err != nil {
		return false, err
	}
	if err := measure(rec, idScores, oodScores, r.plan.File.Bootstrap); err != nil {
		return false, err
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

// cellData splits the cell's OOD set (and the cross setting's pool set) and
// builds its setting's unlabelled pool; nil when a set is missing.
func (r *groupRun) cellData(c experiments.Cell) (*cellData, error) {
	oodVal, oodTest, err := r.oodSplit(c.OOD)
	if errors.Is(err, loaders.ErrNotFound) {
		r.miss(c.OOD, c)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	setting := ood.Setting(c.Setting)
	var other *loaders.Dataset
	if setting == ood.Cross {
		name := r.plan.CrossPool(c.OOD)
		if name == "" || name == c.OOD {
			return nil, fmt.Errorf("cross setting of %s: pool set %q is not another OOD set", c.OOD, name)
		}
		if _, other, err = r.oodSplit(name); err != nil {
			if errors.Is(err, loaders.ErrNotFound) {
				r.miss(name, c)
				return nil, nil
			}
			return nil, err
		}
	}
	pool, idScore, oodScore, err := setting.Pool(r.idTest, oodTest, other, r.plan.File.SplitSeed)
	if err != nil {
		return nil, err
	}
	data := &ood.Data{Train: r.train, IDVal: r.idVal, OODVal: oodVal, Unlabelled: pool, Setting: setting}
	return &cellData{Data: data, idScore: idScore, oodScore: oodScore}, nil
}

// runDetector trains, prepares and runs the cell's detector on its test
// images, adding each phase's seconds to seconds.
func (r *groupRun) runDetector(ctx context.Context, det ood.Detector, env *ood.Env, d *cellData, method string, seconds map[string]float64) (idScores, oodScores []float64, err error) {
	if t, ok := det.(ood.Trainer); ok {
		t0 := time.Now()
		if err := t.Train(ctx, env, d.Data, jobTrainer{r}); err != nil {
			return nil, nil, fmt.Errorf("train %s: %w", method, err)
		}
		seconds["train"] = time.Since(t0).Seconds()
	}
	if p, ok := det.(ood.Preparer); ok {
		t0 := time.Now()
		if err := p.Prepare(ctx, env, d.Data); err != nil {
			return nil, nil, fmt.Errorf("prepare %s: %w", method, err)
		}
		seconds["prepare"] = time.Since(t0).Seconds()
	}
	t0 := time.Now()
	if idScores, err = det.Score(ctx, env, d.idScore); err != nil {
		return nil, nil, fmt.Errorf("score %s on %s: %w", method, d.idScore.Name, err)
	}
	seconds["score_id"] = time.Since(t0).Seconds()
	t0 = time.Now()
	if oodScores, err = det.Score(ctx, env, d.oodScore); err != nil {
		return nil, nil, fmt.Errorf("score %s on %s: %w", method, d.oodScore.Name, err)
	}
	seconds["score_ood"] = time.Since(t0).Seconds()
	return idScores, oodScores, nil
}

// newRecord is the cell's record before its detector runs: the cell, the
// network's accuracy, the provenance (commit, machine, engine), the
// configuration and the image counts.
func (r *groupRun) newRecord(c experiments.Cell, method experiments.Method, d *cellData) *results.Record {
	e := nets.CurrentEngine()
	rec := &results.Record{Key: c.Key, Group: c.Group, Plan: r.plan.Name, ID: c.ID, Network: c.Network, OOD: c.OOD, Method: c.Method,
		Detector: method.Detector, Setting: c.Setting, Seed: c.Seed, Accuracy: r.accuracy, TTAAccuracy: r.ttaAccuracy,
		Commit: r.opts.Commit, Machine: r.opts.Machine, BLAS: e.BLAS, Kernels: e.Kernels, Conv: e.Conv, Threads: e.Threads, Started: time.Now().UTC(),
		Seconds: map[string]float64{}}
	rec.Config = r.config(c, method)
	rec.Counts = results.Counts{IDTest: d.idScore.Len(), OODTest: d.oodScore.Len(), IDVal: r.idVal.Len(), OODVal: d.OODVal.Len(), Unlabelled: d.Unlabelled.Len()}
	return rec
}

// measure puts the metrics of the scores into rec: exact, the MCD authors'
// paper mode, FPR@95 with OOD positive, and bootstrap intervals from
// bootstrap resamples (0: none), seeded with the cell's seed.
func measure(rec *results.Record, idScores, oodScores []float64, bootstrap int) error {
	var err error
	if rec.Metrics, err = metrics.Compute(idScores, oodScores); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	paper, err := metrics.ComputePaper(idScores, oodScores)
	if err != nil {
		return fmt.Errorf("paper-mode metrics: %w", err)
	}
	rec.Paper = &paper.Report
	oodPositive, err := metrics.FPR95OODPositive(idScores, oodScores)
	if err != nil {
		return fmt.Errorf("OOD-positive FPR@95: %w", err)
	}
	rec.FPR95OODPositive = &oodPositive
	if paper.FPR95Fallback {
		rec.Warnings = append(rec.Warnings, "paper-mode FPR95: no threshold had TPR in [0.9495, 0.9505]; the exact value is shown")
	}
	if bootstrap > 0 {
		ci, err := metrics.Bootstrap(idScores, oodScores, metrics.BootstrapConfig{Mode: metrics.Exact, Resamples: bootstrap,
			Level: 0.95, Seed: rec.Seed})
		if err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
		rec.CI = &ci
	}
	return nil
}
