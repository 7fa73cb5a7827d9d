package baselines

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/ood"
	"github.com/mcdood/mcdood/ood/oodtest"
)

// The default partition is the reimplementation's: numpy's permutation of
// range(10) with seed 3 is [5 4 1 2 9 6 7 0 3 8], cut into pairs.
func TestELOCPartition(t *testing.T) {
	d := &ELOC{Config: ELOCDefaults}
	parts, err := d.partition(10)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(parts), "[[5 4] [1 2] [9 6] [7 0] [3 8]]"; got != want {
		t.Fatalf("partition %s, want %s", got, want)
	}
	if _, err := d.partition(12); err == nil {
		t.Fatal("12 classes in 5 folds: no error")
	}
	for _, bad := range [][][]int{{{0}, {0}, {1}, {2}, {3}}, {{0}, {1}, {2}, {3}, {10}}, {{0}, {1}, {}, {3}, {4}}} {
		d := &ELOC{Config: ELOCDefaults}
		d.Config.Partition = bad
		if _, err := d.partition(10); err == nil {
			t.Errorf("partition %v: no error", bad)
		}
	}
}

// meanEntropy is the mean entropy of head 1's softmax over images.
func meanEntropy(t *testing.T, env *ood.Env, m *nets.Model, images *loaders.Dataset) float64 {
	t.Helper()
	out, err := ood.PredictWith(context.Background(), env, m, images, false)
	if err != nil {
		t.Fatal(err)
	}
	p, h := make([]float64, m.Classes), 0.0
	for i := 0; i < out.N; i++ {
		nets.Softmax(out.Logits(0, i), 1, p)
		for _, v := range p {
			h -= v * math.Log(v) / float64(out.N)
		}
	}
	return h
}

// On the toy problem (three classes, one left out per classifier), ELOC
// trains one job per fold on the right images: the kept classes relabelled
// 0..1 in the partition's order, the left-out class as unlabelled outliers;
// each classifier's entropy on its left-out class exceeds that on its own
// classes by more with the margin term than without (the term works); and
// the ensemble scores ID above the OOD cloud.
func TestELOCToy(t *testing.T) {
	toy := oodtest.NewToy(t)
	ctx := context.Background()
	train := toy.Data.Train
	gaps := map[float64][]float64{}
	for _, weight := range []float64{0, 1} {
		cfg := ELOCDefaults
		cfg.Folds, cfg.Weight = 3, weight
		d := &ELOC{Config: cfg, heads: nets.Head1}
		pre := &oodtest.Pretrainer{}
		if err := d.Train(ctx, toy.Env, toy.Data, pre); err != nil {
			t.Fatal(err)
		}
		if len(pre.Jobs) != 3 || len(d.folds) != 3 {
			t.Fatalf("%d jobs and %d folds, want 3", len(pre.Jobs), len(d.folds))
		}
		keys := map[string]bool{}
		for f, job := range pre.Jobs {
			fold := d.folds[f]
			keys[job.Key] = true
			if len(fold.out) != 1 || len(fold.in) != 2 || job.Train.Classes != 2 || job.Outliers.Labelled() {
				t.Fatalf("fold %d: out %v in %v, %d classes, outliers labelled %v", f, fold.out, fold.in, job.Train.Classes, job.Outliers.Labelled())
			}
			wantIn, wantOut := 0, 0
			for _, l := range train.Labels {
				if l == fold.out[0] {
					wantOut++
				} else {
					wantIn++
				}
			}
			if job.Train.Len() != wantIn || job.Outliers.Len() != wantOut {
				t.Fatalf("fold %d: %d and %d images, want %d and %d", f, job.Train.Len(), job.Outliers.Len(), wantIn, wantOut)
			}
			// Relabelling: the kept images in order, an image of class
			// fold.in[k] labelled k.
			j := 0
			for i, l := range train.Labels {
				if l == fold.out[0] {
					continue
				}
				if job.Train.Labels[j] != slices.Index(fold.in, l) || !slices.Equal(job.Train.Image(j), train.Image(i)) {
					t.Fatalf("fold %d: kept image %d has label %d, want %d (class %d of %v)", f, j, job.Train.Labels[j], slices.Index(fold.in, l), l, fold.in)
				}
				j++
			}
			if job.Margin != 0.4 || job.Weight != weight {
				t.Fatalf("fold %d: margin %v weight %v", f, job.Margin, job.Weight)
			}
			own := meanEntropy(t, toy.Env, fold.model, job.Train)
			held := meanEntropy(t, toy.Env, fold.model, job.Outliers)
			gaps[weight] = append(gaps[weight], held-own)
		}
		if len(keys) != 3 {
			t.Fatalf("job keys %v are not distinct", keys)
		}
		if weight == 1 {
			id, out := toy.Run(t, d)
			a := oodtest.AUROC(t, id, out)
			t.Logf("toy AUROC %.3f", a)
			if a < 0.9 {
				t.Errorf("toy AUROC %.3f < 0.9", a)
			}
		}
	}
	t.Logf("entropy gap (left out − own) per fold: without the term %.3f, with it %.3f", gaps[0], gaps[1])
	for f := range gaps[1] {
		if gaps[1][f] < 0.4 || gaps[1][f] <= gaps[0][f] {
			t.Errorf("fold %d: entropy gap %.3f with the margin term (want ≥ 0.4 and above %.3f without)", f, gaps[1][f], gaps[0][f])
		}
	}
}
