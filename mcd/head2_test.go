package mcd

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mcdood/mcdood/ood"
	"github.com/mcdood/mcdood/ood/oodtest"
)

// A softmax regression on linearly separable features (each class a
// cluster around its own one-hot direction, noise 0.1) must fit them
// exactly, and be the same for the same seed and different for another.
func TestFitSoftmaxRegression(t *testing.T) {
	const n, dim, classes = 600, 8, 3
	rng := rand.New(rand.NewPCG(1, 2))
	features := make([]float32, n*dim)
	labels := make([]int, n)
	for i := range labels {
		labels[i] = i % classes
		for j := range dim {
			features[i*dim+j] = float32(rng.NormFloat64() * 0.1)
		}
		features[i*dim+labels[i]] += 1
	}
	fit := func(seed uint64) ([]float32, []float32, float64) {
		w, b := make([]float32, classes*dim), make([]float32, classes)
		acc := fitSoftmaxRegression(features, labels, dim, classes, 10, rand.New(rand.NewPCG(seed, 0)), w, b)
		return w, b, acc
	}
	w1, b1, acc := fit(1)
	if acc != 1 {
		t.Errorf("accuracy %v on separable clusters, want 1", acc)
	}
	w1b, b1b, _ := fit(1)
	if !slices.Equal(w1, w1b) || !slices.Equal(b1, b1b) {
		t.Error("same seed, different head")
	}
	if w2, _, _ := fit(2); slices.Equal(w1, w2) {
		t.Error("another seed gave the same head")
	}
}

// Head2 "copy" makes head 2 equal to head 1; "fit" leaves head 1 and the
// extractor alone and fits head 2 to the labelled images.
func TestMakeHead2(t *testing.T) {
	toy := oodtest.NewToy(t)
	ctx := context.Background()
	for _, mode := range []string{Head2Copy, Head2Fit} {
		t.Run(mode, func(t *testing.T) {
			m := toy.Env.Model.Clone()
			cfg := toyConfig()
			cfg.Head2, cfg.Head2Epochs = mode, 20
			acc, err := makeHead2(ctx, toy.Env, m, toy.Data.Train, cfg)
			if err != nil {
				t.Fatal(err)
			}
			w1, b1, err := m.Head(1)
			if err != nil {
				t.Fatal(err)
			}
			w2, b2, _ := m.Head(2)
			same := slices.Equal(w1, w2) && slices.Equal(b1, b2)
			if same != (mode == Head2Copy) {
				t.Errorf("head 2 equal to head 1: %v", same)
			}
			for i, p := range m.Params() {
				if p.Name == "head2.w" || p.Name == "head2.b" {
					continue
				}
				if !slices.Equal(p.Data(), toy.Env.Model.Params()[i].Data()) {
					t.Errorf("%s changed", p.Name)
				}
			}
			if mode == Head2Fit && acc < 0.8 {
				t.Errorf("fitted head 2: training accuracy %v on the toy problem, want ≥ 0.8", acc)
			}
			// Through the engine, head 2 classifies as the fit said (so the
			// weights went into the layout the network reads).
			out, err := ood.PredictWith(ctx, toy.Env, m, toy.Data.Train, false)
			if err != nil {
				t.Fatal(err)
			}
			if got := out.Accuracy(toy.Data.Train.Labels)[1]; mode == Head2Fit && math.Abs(got-acc) > 1e-9 {
				t.Errorf("head 2's accuracy through the network %v, the fit's %v", got, acc)
			}
		})
	}
}
