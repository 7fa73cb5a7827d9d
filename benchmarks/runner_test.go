package benchmarks

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/mcdood/mcdood/baselines"
	"github.com/mcdood/mcdood/experiments"
	"github.com/mcdood/mcdood/internal/testenv"
	_ "github.com/mcdood/mcdood/mcd"
	"github.com/mcdood/mcdood/results"
)

// tiny is a plan that runs in seconds on the data mirror.
const tiny = `
name = "tiny"
id = ["cifar10"]
networks = ["small"]
ood = ["gaussian", "lsun-crop", "uniform"]
methods = ["msp", "mcd"]
validation = 100
train_images = 512
test_images = 300
ood_images = 300
noise_images = 300

[network.small]
epochs = 1
batch = 64
lr = 0.05
schedule = "constant"
momentum = 0.9

[method.mcd]
epochs = 1
steps_per_epoch = 3
batch = 32
unlabelled_batch = 32
`

func TestRunResumesAndReportsMissingData(t *testing.T) {
	data := testenv.DataMirror(t)
	// lsun-crop is not in the mirror; point the run at a root that has
	// CIFAR-10 only, so the test does not depend on what else is there.
	root := t.TempDir()
	if err := os.Symlink(filepath.Join(data, "cifar-10-batches-bin"), filepath.Join(root, "cifar-10-batches-bin")); err != nil {
		t.Fatal(err)
	}
	plan, err := experiments.Parse("tiny.toml", []byte(tiny))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	opts := Options{DataRoot: root, Out: out}

	// A run cancelled after its first record resumes without redoing it.
	ctx, cancel := context.WithCancel(context.Background())
	store, _ := results.OpenStore(out)
	go func() {
		for !hasAny(store) {
			time.Sleep(2 * time.Millisecond)
		}
		cancel()
	}()
	sum, err := Run(ctx, plan, opts)
	if err == nil || sum.Done < 1 || sum.Done >= 4 {
		t.Fatalf("cancelled run: done %d, err %v", sum.Done, err)
	}
	first := sum.Done
	sum, err = Run(context.Background(), plan, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped != first || sum.Done != 4-first || len(sum.Records) != 4 {
		t.Fatalf("resumed run: done %d, skipped %d, records %d (first run did %d)", sum.Done, sum.Skipped, len(sum.Records), first)
	}
	if len(sum.Missing) != 1 || sum.Missing[0].Name != "lsun-crop" || sum.Missing[0].Cells != 2 ||
		!strings.Contains(sum.Missing[0].Fetch, "mcdood data fetch") {
		t.Fatalf("missing sets %+v", sum.Missing)
	}
	for _, r := range sum.Records {
		if r.Counts.IDTest != 200 || r.Counts.OODTest != 200 || r.Accuracy <= 0 || r.Commit != "" && r.Machine == "" {
			t.Errorf("record %s: %+v", r.Key, r.Counts)
		}
		if r.Detector == "mcd" && (r.Counts.Unlabelled != 400 || len(r.Notes) == 0) {
			t.Errorf("mcd record %s: unlabelled %d, notes %v", r.Key, r.Counts.Unlabelled, r.Notes)
		}
	}
	// A finished plan runs nothing; the cached model is reused.
	sum, err = Run(context.Background(), plan, opts)
	if err != nil || sum.Done != 0 || sum.Skipped != 4 {
		t.Fatalf("third run: done %d, skipped %d, %v", sum.Done, sum.Skipped, err)
	}
	models, _ := filepath.Glob(filepath.Join(out, "models", "*.ckpt"))
	if len(models) != 1 {
		t.Fatalf("model cache holds %v", models)
	}
	// Shards cover the plan without overlap.
	out2 := t.TempDir()
	for i := 0; i < 2; i++ {
		if _, err := Run(context.Background(), plan, Options{DataRoot: root, Out: out2, Shard: i, Shards: 2}); err != nil {
			t.Fatal(err)
		}
	}
	store2, _ := results.OpenStore(out2)
	all, err := store2.All()
	if err != nil || len(all) != 4 {
		t.Fatalf("two shards wrote %d records (%v)", len(all), err)
	}
}

func hasAny(s *results.Store) bool {
	keys, _ := s.Keys()
	return len(keys) > 0
}
