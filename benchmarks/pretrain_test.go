package benchmarks

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcdood/mcdood/experiments"
	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"
)

// randomSet is a labelled set of n random images of 10 classes.
func randomSet(name string, n int, seed uint64) *loaders.Dataset {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := &loaders.Dataset{Name: name, Pixels: make([]byte, n*loaders.ImageBytes), Labels: make([]int, n), Classes: 10}
	for i := range d.Pixels {
		d.Pixels[i] = byte(rng.IntN(256))
	}
	for i := range d.Labels {
		d.Labels[i] = rng.IntN(10)
	}
	return d
}

func TestTrainPretraining(t *testing.T) {
	plan, err := experiments.Parse("tiny.toml", []byte(tiny))
	if err != nil {
		t.Fatal(err)
	}
	net := plan.Network("small")
	train, test := randomSet("train", 600, 1), randomSet("test", 10, 2)

	p := TrainPretraining(nil, "cifar10", net, 3, train, test)
	if p.Train != train || p.Test != test || p.Seed != 3 {
		t.Errorf("without a plan: train %p, test %p, seed %d; want the sets given and seed 3", p.Train, p.Test, p.Seed)
	}
	if want := filepath.Join("out", "train", "small-cifar10-seed3.ckpt"); p.Checkpoint != want {
		t.Errorf("without a plan: checkpoint %q, want %q", p.Checkpoint, want)
	}
	if !strings.HasPrefix(p.Key, "small cifar10 {Epochs:1 ") || !strings.HasSuffix(p.Key, " seed=3") {
		t.Errorf("without a plan: key %q, want the recipe described", p.Key)
	}

	p = TrainPretraining(plan, "cifar10", net, 3, train, test)
	key := plan.ModelKey("cifar10", "small", 3)
	if p.Key != key || p.Checkpoint != plan.ModelPath(plan.File.Out, key) {
		t.Errorf("with a plan: key %q, checkpoint %q; want the plan's model cache (%q)", p.Key, p.Checkpoint, key)
	}
	if p.Train.Len() != 512 { // the plan's train_images
		t.Errorf("with a plan: %d training images, want the plan's 512", p.Train.Len())
	}
}

func TestTrainReportWriteText(t *testing.T) {
	r := &TrainReport{
		History: []nets.EpochStats{{Epoch: 1, LR: 0.05, Loss: 2.25, Accuracy: []float64{0.125, 0.5}, Seconds: 12.4},
			{Epoch: 10, LR: 0.00125, Loss: 0.5, Accuracy: []float64{0.9, 0.875}, Seconds: 9.6}},
		Model:      "small: 0.30M parameters, 128 features, 10 classes",
		Checkpoint: "out/train/small-cifar10-seed1.ckpt",
		Accuracy:   &Accuracy{Plain: []float64{0.9, 0.875}, TTA: []float64{0.9125, 0.8875}},
		TTA:        2,
		Took:       90 * time.Second,
	}
	want := `epoch   1  lr 0.0500  loss 2.2500  test accuracy 12.50% / 50.00% (head 1 / head 2)  12s
epoch  10  lr 0.0013  loss 0.5000  test accuracy 90.00% / 87.50% (head 1 / head 2)  10s
small: 0.30M parameters, 128 features, 10 classes
checkpoint out/train/small-cifar10-seed1.ckpt
test accuracy: 90.00% (head 1), 87.50% (head 2); 1.5 minutes
with test-time augmentation (level 2): 91.25% (head 1), 88.75% (head 2)
`
	var b strings.Builder
	r.WriteText(&b)
	if b.String() != want {
		t.Errorf("without rebuilt images:\n got %q\nwant %q", b.String(), want)
	}
	// The mirror's split: 1,000 exact test images and 9,000 JPEG-rebuilt.
	r.Accuracy.TTA, r.ExactAccuracy, r.RebuiltAccuracy, r.Rebuilt = nil, 0.95, 0.8875, 9000
	want = strings.Replace(want, "with test-time augmentation (level 2): 91.25% (head 1), 88.75% (head 2)\n",
		"head 1 on test images 0–999: 95.00%; on the other 9000: 88.75%\n", 1)
	b.Reset()
	r.WriteText(&b)
	if b.String() != want {
		t.Errorf("with rebuilt images, without TTA:\n got %q\nwant %q", b.String(), want)
	}
}

func TestPretrainAndTest(t *testing.T) {
	spec, err := nets.ParseSpec("small")
	if err != nil {
		t.Fatal(err)
	}
	net := experiments.Network{Name: "small", Spec: spec,
		Recipe: experiments.Recipe{Epochs: 1, Batch: 32, LR: 0.05, Schedule: "constant", Momentum: 0.9}}
	p := TrainPretraining(nil, "random", net, 1, randomSet("train", 64, 1), randomSet("test", 1010, 2))
	p.Checkpoint = filepath.Join(t.TempDir(), "small.ckpt")
	r, err := PretrainAndTest(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.History) != 1 || r.Checkpoint != p.Checkpoint || r.Rebuilt != 10 || len(r.Accuracy.Plain) != 2 || r.Accuracy.TTA != nil {
		t.Errorf("report %+v: want 1 epoch, the checkpoint, 10 rebuilt images, 2 heads' accuracy, no TTA", r)
	}
	if _, err := os.Stat(p.Checkpoint); err != nil {
		t.Error(err)
	}
	// Resumed from the finished checkpoint: no epoch trained.
	if r, err := PretrainAndTest(context.Background(), p); err != nil || len(r.History) != 0 {
		t.Errorf("second run: %v, %v; want no epochs trained", r, err)
	}
	p.Test = nil
	if _, err := PretrainAndTest(context.Background(), p); err == nil {
		t.Error("no test images: no error")
	}
}
