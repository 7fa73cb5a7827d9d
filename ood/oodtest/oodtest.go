// Package oodtest gives detector tests a toy problem with a known answer and
// a conformance check that every registered detector must pass (in the
// manner of gonum's distribution tests).
package oodtest

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/metrics"
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/ood"
)

// Toy is a 2-D problem drawn into images: in-distribution points come from
// three Gaussian blobs (the three classes); OOD points from a small cloud in
// the middle, between the classes, where a classifier is unsure (OODTest),
// and from a ring far around the blobs (Ring), where a ReLU classifier is
// confidently wrong — the case MCD addresses. A point (x, y) is written as
// two constant image planes, which the mlp-32 network averages back into
// coordinates.
type Toy struct {
	Env             *ood.Env
	Data            *ood.Data
	IDTest, OODTest *loaders.Dataset
	RingVal, Ring   *loaders.Dataset
}

var centres = [3][2]float64{{-2, -1}, {2, -1}, {0, 2}}

// point writes (x, y) into image i of d: byte = 128 + 16·coordinate.
func point(d *loaders.Dataset, i int, x, y float64) {
	img := d.Image(i)
	for c, v := range []float64{x, y, 0} {
		b := byte(math.Max(0, math.Min(255, math.Round(128+16*v))))
		for j := 0; j < loaders.PlaneBytes; j++ {
			img[c*loaders.PlaneBytes+j] = b
		}
	}
}

func blobs(name string, n int, rng *rand.Rand) *loaders.Dataset {
	d := &loaders.Dataset{Name: name, Pixels: make([]byte, n*loaders.ImageBytes), Labels: make([]int, n), Classes: 3}
	for i := 0; i < n; i++ {
		c := rng.IntN(3)
		d.Labels[i] = c
		point(d, i, centres[c][0]+0.5*rng.NormFloat64(), centres[c][1]+0.5*rng.NormFloat64())
	}
	return d
}

func middle(name string, n int, rng *rand.Rand) *loaders.Dataset {
	d := &loaders.Dataset{Name: name, Pixels: make([]byte, n*loaders.ImageBytes)}
	for i := 0; i < n; i++ {
		point(d, i, 0.3*rng.NormFloat64(), 0.3*rng.NormFloat64())
	}
	return d
}

func ring(name string, n int, rng *rand.Rand) *loaders.Dataset {
	d := &loaders.Dataset{Name: name, Pixels: make([]byte, n*loaders.ImageBytes)}
	for i := 0; i < n; i++ {
		a, r := 2*math.Pi*rng.Float64(), 5.5+0.3*rng.NormFloat64()
		point(d, i, r*math.Cos(a), r*math.Sin(a))
	}
	return d
}

var (
	toyOnce  sync.Once
	toyModel *nets.Model
	toyErr   error
)

var toySpec, _ = nets.ParseSpec("mlp-32")

// toyRecipe is how the toy's networks are trained.
func toyRecipe(seed uint64) nets.TrainConfig {
	return nets.TrainConfig{Epochs: 15, Batch: 32, Momentum: 0.9, WeightDecay: 1e-4, Schedule: nets.Constant(0.05), Seed: seed}
}

// Pretrainer is the toy's ood.Pretrainer: it trains each job's network as
// the toy's own (mlp-32, 15 epochs), in memory, afresh on every call.
type Pretrainer struct {
	Jobs []ood.TrainJob // the jobs asked for, in order
}

// Pretrain implements ood.Pretrainer.
func (p *Pretrainer) Pretrain(ctx context.Context, job ood.TrainJob) (*nets.Model, error) {
	p.Jobs = append(p.Jobs, job)
	cfg := toyRecipe(uint64(11 + len(p.Jobs)))
	if job.Outliers != nil {
		batch := job.OutlierBatch
		if batch == 0 {
			batch = max(1, cfg.Batch*job.Outliers.Len()/job.Train.Len())
		}
		cfg.EntropyMargin = &nets.EntropyMargin{Outliers: loaders.Batches{Set: job.Outliers, Norm: loaders.CIFARNormalization},
			Batch: batch, Margin: job.Margin, Weight: job.Weight}
	}
	m, _, err := nets.Train(ctx, toySpec, loaders.Batches{Set: job.Train, Norm: loaders.CIFARNormalization}, cfg, nets.TrainOptions{})
	return m, err
}

// NewToy returns the toy problem with a two-head mlp-32 pre-trained on it
// (trained once per test binary, in about a second). Unlabelled is the
// transductive pool: the ID and OOD test points.
func NewToy(t testing.TB) *Toy {
	t.Helper()
	rng := rand.New(rand.NewPCG(2019, 10))
	train := blobs("blobs-train", 600, rng)
	idVal, idTest := blobs("blobs-val", 100, rng), blobs("blobs-test", 300, rng)
	oodVal, oodTest := middle("middle-val", 100, rng), middle("middle-test", 300, rng)
	ringVal, ringTest := ring("ring-val", 100, rng), ring("ring-test", 300, rng)
	toyOnce.Do(func() {
		toyModel, _, toyErr = nets.Train(context.Background(), toySpec, loaders.Batches{Set: train, Norm: loaders.CIFARNormalization},
			toyRecipe(7), nets.TrainOptions{})
	})
	if toyErr != nil {
		t.Fatalf("training the toy model: %v", toyErr)
	}
	return &Toy{
		Env: &ood.Env{Model: toyModel, Norm: loaders.CIFARNormalization, Batch: 64, Seed: 3},
		Data: &ood.Data{Train: train, IDVal: idVal, OODVal: oodVal,
			Unlabelled: loaders.Concat("toy pool", idTest, oodTest), Setting: ood.Transductive},
		IDTest: idTest, OODTest: oodTest, RingVal: ringVal, Ring: ringTest,
	}
}

// Run trains and prepares (when the detector needs it) and scores the toy
// test sets.
func (toy *Toy) Run(t testing.TB, d ood.Detector) (id, out []float64) {
	t.Helper()
	ctx := context.Background()
	if tr, ok := d.(ood.Trainer); ok {
		if err := tr.Train(ctx, toy.Env, toy.Data, &Pretrainer{}); err != nil {
			t.Fatalf("train: %v", err)
		}
	}
	if p, ok := d.(ood.Preparer); ok {
		if err := p.Prepare(ctx, toy.Env, toy.Data); err != nil {
			t.Fatalf("prepare: %v", err)
		}
	}
	id, err := d.Score(ctx, toy.Env, toy.IDTest)
	if err != nil {
		t.Fatalf("score ID: %v", err)
	}
	out, err = d.Score(ctx, toy.Env, toy.OODTest)
	if err != nil {
		t.Fatalf("score OOD: %v", err)
	}
	return id, out
}

// AUROC of ID versus OOD scores (ID positive).
func AUROC(t testing.TB, id, out []float64) float64 {
	t.Helper()
	r, err := metrics.Compute(id, out)
	if err != nil {
		t.Fatal(err)
	}
	return r.AUROC
}

// Conformance checks a registered detector built with its defaults (or with
// cfg, a pointer from its Registration's NewConfig): one finite score per
// image; the same scores when built and run again with the same seed; and
// in-distribution scored above OOD on the toy problem (AUROC ≥ minAUROC).
// The model in the environment must be left unchanged.
func Conformance(t testing.TB, name string, cfg any, minAUROC float64) {
	t.Helper()
	reg, err := ood.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	if reg.Doc == "" {
		t.Errorf("%s: registration has no doc line", name)
	}
	if cfg == nil {
		cfg = reg.NewConfig()
	}
	toy := NewToy(t)
	before := append([]float32(nil), toy.Env.Model.Params()[0].Data()...)
	// Each run builds its detector afresh, with a memo of its own, so that
	// the second run computes everything again.
	run := func() ([]float64, []float64) {
		d, err := reg.Build(cfg)
		if err != nil {
			t.Fatalf("%s: build: %v", name, err)
		}
		toy.Env.Memo = &ood.Memo{}
		return toy.Run(t, d)
	}
	id, out := run()
	if len(id) != toy.IDTest.Len() || len(out) != toy.OODTest.Len() {
		t.Fatalf("%s: %d and %d scores for %d and %d images", name, len(id), len(out), toy.IDTest.Len(), toy.OODTest.Len())
	}
	for i, s := range append(append([]float64(nil), id...), out...) {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			t.Fatalf("%s: score %d is %v", name, i, s)
		}
	}
	id2, out2 := run()
	for i := range id {
		if id[i] != id2[i] {
			t.Fatalf("%s: ID score %d differs between two runs with one seed: %v, %v", name, i, id[i], id2[i])
		}
	}
	for i := range out {
		if out[i] != out2[i] {
			t.Fatalf("%s: OOD score %d differs between two runs with one seed", name, i)
		}
	}
	if a := AUROC(t, id, out); a < minAUROC {
		t.Errorf("%s: toy AUROC %.3f < %.3f: ID images are not scored above OOD", name, a, minAUROC)
	}
	for i, v := range toy.Env.Model.Params()[0].Data() {
		if v != before[i] {
			t.Fatalf("%s changed the shared model", name)
		}
	}
}
