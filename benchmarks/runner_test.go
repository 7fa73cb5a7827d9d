package benchmarks

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mcdood/mcdood/baselines"
	"github.com/mcdood/mcdood/experiments"
	"github.com/mcdood/mcdood/internal/testenv"
	"github.com/mcdood/mcdood/loaders"
	_ "github.com/mcdood/mcdood/mcd"
	"github.com/mcdood/mcdood/metrics"
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/ood"
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

// cifarRoot is a data root holding only the data mirror's CIFAR-10, so that
// a test does not depend on what else the mirror holds.
func cifarRoot(t *testing.T, data string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.Symlink(filepath.Join(data, "cifar-10-batches-bin"), filepath.Join(root, "cifar-10-batches-bin")); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestRunResumesAndReportsMissingData(t *testing.T) {
	data := testenv.DataMirror(t)
	// lsun-crop is not in the mirror; point the run at a root that has
	// CIFAR-10 only, so the test does not depend on what else is there.
	root := cifarRoot(t, data)
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

// brokenPlan has a healthy OOD set and a custom one given by path.
func brokenPlan(t *testing.T, path string) *experiments.Plan {
	t.Helper()
	src := strings.Replace(tiny, `ood = ["gaussian", "lsun-crop", "uniform"]`, `ood = ["gaussian", "mine"]`, 1) + `
[[custom_ood]]
name = "mine"
path = "` + path + `"
fit = "resize"
`
	plan, err := experiments.Parse("broken.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// A custom OOD set with a corrupt image, or a truncated archive, is found by
// the data pass, named with its file, before anything is trained; with
// SkipBroken the healthy set's cells run and the broken set's fail.
func TestBrokenDataFailsBeforeTraining(t *testing.T) {
	data := testenv.DataMirror(t)
	root := cifarRoot(t, data)
	// 150 good images (more than the 100 validation images) and a JPEG cut
	// short; and a .tar.gz cut in the middle.
	folder := filepath.Join(root, "mine")
	os.Mkdir(folder, 0o755)
	img := image.NewRGBA(image.Rect(0, 0, 40, 40))
	var good bytes.Buffer
	if err := png.Encode(&good, img); err != nil {
		t.Fatal(err)
	}
	for i := range 150 {
		os.WriteFile(filepath.Join(folder, fmt.Sprintf("img%03d.png", i)), good.Bytes(), 0o644)
	}
	os.WriteFile(filepath.Join(folder, "zz-cut.jpg"), []byte("\xff\xd8\xff\xe0\x00\x10JFIF"), 0o644)
	var tgz bytes.Buffer
	zw := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(zw)
	for i := range 150 {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("img%03d.png", i), Mode: 0o644, Size: int64(good.Len())})
		tw.Write(good.Bytes())
	}
	tw.Close()
	zw.Close()
	os.WriteFile(filepath.Join(root, "cut.tar.gz"), tgz.Bytes()[:tgz.Len()/2], 0o644)

	for _, c := range []struct{ path, want string }{{"mine", "zz-cut.jpg"}, {"cut.tar.gz", "cut.tar.gz"}} {
		t.Run(c.path, func(t *testing.T) {
			plan := brokenPlan(t, c.path)
			out := t.TempDir()
			opts := Options{DataRoot: root, Out: out}
			_, err := Run(context.Background(), plan, opts)
			var be *BrokenError
			if !errors.As(err, &be) || len(be.Sets) != 1 || be.Sets[0].Name != "mine" || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("run: %v, want a BrokenError naming %s", err, c.want)
			}
			if models, _ := filepath.Glob(filepath.Join(out, "models", "*")); len(models) > 0 {
				t.Fatalf("trained before failing: %v", models)
			}
			opts.SkipBroken = true
			sum, err := Run(context.Background(), plan, opts)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Done != 2 || len(sum.Failed) != 2 || !strings.Contains(sum.Failed[0].Err.Error(), c.want) {
				t.Fatalf("with SkipBroken: done %d, failed %+v", sum.Done, sum.Failed)
			}
			var table bytes.Buffer
			sum.Data.WriteTable(&table)
			if !strings.Contains(table.String(), "broken") || !strings.Contains(table.String(), "gaussian") {
				t.Errorf("data table:\n%s", table.String())
			}
		})
	}
}

// ownTraining is a detector with networks of its own (ood.Trainer): a job
// with held-out images, scored by its network's max softmax.
type ownTraining struct {
	key   string
	model *nets.Model
}

func init() {
	ood.Register("test-own-training", "test: trains a network of its own", struct {
		Key string `toml:"key"`
	}{"own-a"}, func(c struct {
		Key string `toml:"key"`
	}) (ood.Detector, error) {
		return &ownTraining{key: c.Key}, nil
	})
}

func (d *ownTraining) Train(ctx context.Context, env *ood.Env, data *ood.Data, pre ood.Pretrainer) error {
	held := data.Train.Subset("held", []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	held.Labels, held.Classes = nil, 0
	var err error
	d.model, err = pre.Pretrain(ctx, ood.TrainJob{Key: d.key, Train: data.Train, Outliers: held, Margin: 0.4, Weight: 0.2})
	return err
}

func (d *ownTraining) Score(ctx context.Context, env *ood.Env, images *loaders.Dataset) ([]float64, error) {
	out, err := ood.PredictWith(ctx, env, d.model, images, false)
	if err != nil {
		return nil, err
	}
	s := make([]float64, out.N)
	p, tmp := make([]float64, out.Classes), make([]float64, out.Classes)
	for i := range s {
		s[i] = ood.MaxSoftmax(out, i, nets.Head1, 1, p, tmp)
	}
	return s, nil
}

// A detector that trains its own networks gets them through the plan's
// model cache: a checkpoint beside the pre-trained network's, named by the
// job's key, reused by the next cell that asks for the same job (not
// trained again); a key that is not a file name fails the cell by name.
func TestTrainerJobsUseTheModelCache(t *testing.T) {
	root := testenv.DataMirror(t)
	src := strings.Replace(tiny[:strings.Index(tiny, "[method.mcd]")], `ood = ["gaussian", "lsun-crop", "uniform"]`, `ood = ["gaussian"]`, 1)
	src = strings.Replace(src, `methods = ["msp", "mcd"]`, `methods = ["own"]`, 1) + `
[method.own]
detector = "test-own-training"
`
	plan, err := experiments.Parse("own.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	opts := Options{DataRoot: root, Out: out}
	if sum, err := Run(context.Background(), plan, opts); err != nil || sum.Done != 1 {
		t.Fatalf("run: %+v, %v", sum, err)
	}
	mkey := plan.ModelKey("cifar10", "small", 1)
	job := filepath.Join(out, "models", mkey+"+own-a.ckpt")
	st, err := os.Stat(job)
	if err != nil {
		t.Fatalf("the job's checkpoint: %v", err)
	}
	// A second OOD set: a new cell, the same job, loaded.
	plan2, err := experiments.Parse("own.toml", []byte(strings.Replace(src, `ood = ["gaussian"]`, `ood = ["gaussian", "uniform"]`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), plan2, opts)
	if err != nil || sum.Done != 1 || sum.Skipped != 1 {
		t.Fatalf("second run: %+v, %v", sum, err)
	}
	if st2, _ := os.Stat(job); !st2.ModTime().Equal(st.ModTime()) {
		t.Fatal("the job was trained again")
	}
	for _, r := range sum.Records {
		if _, ok := r.Seconds["train"]; !ok {
			t.Errorf("record %s has no train seconds: %v", r.Key, r.Seconds)
		}
	}
	plan3, err := experiments.Parse("own.toml", []byte(src+"key = \"../escape\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	sum, err = Run(context.Background(), plan3, Options{DataRoot: root, Out: t.TempDir()})
	if err != nil || len(sum.Failed) != 1 || !strings.Contains(sum.Failed[0].Err.Error(), `"../escape"`) {
		t.Fatalf("bad key: %+v, %v", sum, err)
	}
}

// recordAll writes a hand-made record, with scores, for every cell of plan
// but skip, as earlier runs would have.
func recordAll(t *testing.T, plan *experiments.Plan, out string, skip func(experiments.Cell) bool) int {
	t.Helper()
	store, err := results.OpenStore(out)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range plan.Cells {
		if skip != nil && skip(c) {
			continue
		}
		if err := store.PutScores(c.Key, []float64{0.9, 0.8, 0.7}, []float64{0.1, 0.75}); err != nil {
			t.Fatal(err)
		}
		r := &results.Record{Key: c.Key, Group: c.Group, Plan: plan.Name, ID: c.ID, Network: c.Network, OOD: c.OOD,
			Method: c.Method, Detector: c.Method, Setting: c.Setting, Seed: c.Seed, Accuracy: 0.5}
		if r.Metrics, err = metrics.Compute([]float64{0.9, 0.8, 0.7}, []float64{0.1, 0.75}); err != nil {
			t.Fatal(err)
		}
		if err := store.Put(r); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// A filtered rerun (reproduce --methods, --ood) returns every record in
// Out, not only its own cells', so the tables rebuilt from them keep every
// row; no data and no training are needed for that.
func TestFilteredRunKeepsEveryRecord(t *testing.T) {
	plan, err := experiments.Parse("tiny.toml", []byte(tiny))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	// Every cell has a record but msp on uniform, whose data is missing
	// (an empty data root).
	pending := func(c experiments.Cell) bool { return c.Method == "msp" && c.OOD == "uniform" }
	n := recordAll(t, plan, out, pending)
	if err := plan.OnlyMethods([]string{"msp"}); err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), plan, Options{DataRoot: t.TempDir(), Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != 0 || sum.Skipped != 2 || len(sum.Missing) != 1 || len(sum.Records) != n || n != 5 {
		t.Fatalf("done %d, skipped %d, missing %+v, %d records of %d", sum.Done, sum.Skipped, sum.Missing, len(sum.Records), n)
	}
	if err := results.WriteReport(out, sum.Records, results.ReportOptions{SkipPlots: true}); err != nil {
		t.Fatal(err)
	}
	csv, err := os.ReadFile(filepath.Join(out, results.TablesDir, "tables.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if rows := strings.Count(string(csv), "\ncifar10,small,"); rows != n || !strings.Contains(string(csv), ",mcd,") {
		t.Errorf("tables.csv has %d rows, want %d (mcd's too):\n%s", rows, n, csv)
	}
	// A record edited after its run stops the run, naming the file.
	path := filepath.Join(out, "records", plan.Cells[0].Key+".json")
	b, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(b), `"accuracy": 0.5`, `"accuracy": 0.9`, 1)), 0o644)
	if _, err := Run(context.Background(), plan, Options{DataRoot: t.TempDir(), Out: out}); err == nil || !strings.Contains(err.Error(), path+": digest") {
		t.Errorf("edited record: %v, want an error naming %s", err, path)
	}
}

// A run that does nothing (its data missing) leaves no records or scores
// folder, and releases Out.
func TestIdleRunLeavesNoFolders(t *testing.T) {
	plan, err := experiments.Parse("tiny.toml", []byte(tiny))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	sum, err := Run(context.Background(), plan, Options{DataRoot: t.TempDir(), Out: out})
	if err != nil || sum.Done != 0 || len(sum.Records) != 0 {
		t.Fatalf("run: %+v, %v", sum, err)
	}
	if entries, err := os.ReadDir(out); err != nil || len(entries) != 0 {
		t.Errorf("%s holds %v (%v), want nothing", out, entries, err)
	}
}

// Three runs on one Out share the plan: every cell is computed by exactly
// one of them, the network is pre-trained once, a claim left by a dead
// process is taken over, and each run ends with every record.
func TestWorkersShareOneOut(t *testing.T) {
	data := testenv.DataMirror(t)
	root := cifarRoot(t, data)
	plan, err := experiments.Parse("tiny.toml", []byte(tiny))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	// A claim on the first cell by a process that has ended, on this host.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	host, _ := os.Hostname()
	name, _ := results.FileName(plan.Cells[0].Key)
	os.MkdirAll(filepath.Join(out, "claims"), 0o755)
	stale := fmt.Sprintf(`{"host":%q,"pid":%d}`, host, dead.Process.Pid)
	if err := os.WriteFile(filepath.Join(out, "claims", name+".0.claim"), []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	done := map[string]int{}
	pretrained := 0
	hook := testenv.LogHook(func(msg string, attrs map[string]slog.Value) {
		mu.Lock()
		defer mu.Unlock()
		switch msg {
		case "cell done":
			done[attrs["key"].String()]++
		case "pre-trained":
			pretrained++
		}
	})
	const workers = 3
	sums := make([]*Summary, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums[i], errs[i] = Run(context.Background(), plan, Options{DataRoot: root, Out: out,
				Log: slog.New(hook), Poll: 20 * time.Millisecond})
		}()
	}
	wg.Wait()
	total := 0
	for i := range workers {
		if errs[i] != nil {
			t.Fatalf("worker %d: %v", i, errs[i])
		}
		s := sums[i]
		total += s.Done
		if len(s.Records) != 4 || s.Done+s.Others+s.Skipped != 4 {
			t.Errorf("worker %d: done %d, others %d, skipped %d, records %d", i, s.Done, s.Others, s.Skipped, len(s.Records))
		}
	}
	if total != 4 || len(done) != 4 || pretrained != 1 {
		t.Errorf("cells done %v (total %d), network pre-trained %d times; want 4 cells once each, one pre-training", done, total, pretrained)
	}
	for k, n := range done {
		if n != 1 {
			t.Errorf("cell %s computed %d times", k, n)
		}
	}
	left, _ := filepath.Glob(filepath.Join(out, "claims", "*.claim"))
	if len(left) != 0 {
		t.Errorf("claims left behind: %v", left)
	}
	logs, _ := filepath.Glob(filepath.Join(out, "claims", "*.log"))
	var log strings.Builder
	for _, p := range logs {
		b, _ := os.ReadFile(p)
		log.Write(b)
	}
	if want := fmt.Sprintf("takeover from %s pid %d %s gen 1", host, dead.Process.Pid, name); !strings.Contains(log.String(), want) {
		t.Errorf("claim logs lack %q:\n%s", want, log.String())
	}
	if n := strings.Count(log.String(), " done "); n != 4 {
		t.Errorf("claim logs say done %d times, want 4:\n%s", n, log.String())
	}
}

// tinyMCD is one MCD cell of two short epochs, on a network trained for
// one epoch on 256 images.
const tinyMCD = `
name = "tiny-mcd"
id = ["cifar10"]
networks = ["small"]
ood = ["gaussian"]
methods = ["mcd"]
validation = 50
train_images = 256
test_images = 150
ood_images = 150
noise_images = 150

[network.small]
epochs = 1
batch = 64
lr = 0.05
schedule = "constant"
momentum = 0.9

[method.mcd]
epochs = 2
steps_per_epoch = 2
batch = 16
unlabelled_batch = 16
`

// A run stopped in the middle of an MCD cell (its context cancelled after
// the first epoch's checkpoint, as SIGTERM does) and started again resumes
// the cell from OUT/checkpoints/<cell key>.ckpt; the cell's scores file and
// its record (times aside) are an uninterrupted run's, and the checkpoint
// is gone once the record is written.
func TestMCDCellResumesFromItsCheckpoint(t *testing.T) {
	data := testenv.DataMirror(t)
	root := cifarRoot(t, data)
	plan, err := experiments.Parse("tiny-mcd.toml", []byte(tinyMCD))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Cells) != 1 {
		t.Fatalf("%d cells, want 1", len(plan.Cells))
	}
	key := plan.Cells[0].Key
	models, ref, out := t.TempDir(), t.TempDir(), t.TempDir()
	plan.File.Models = models // the three runs share one model cache
	// One data pass and one pre-training serve the three runs.
	pass, err := OpenData(context.Background(), plan, Options{DataRoot: root, Out: ref})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), plan, Options{DataRoot: root, Out: ref, Data: pass}); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := slog.New(testenv.LogHook(func(msg string, attrs map[string]slog.Value) {
		if msg == "mcd checkpoint written" && attrs["completed_epochs"].Int64() == 1 {
			cancel()
		}
	}))
	sum, err := Run(ctx, plan, Options{DataRoot: root, Out: out, Data: pass, Log: stop})
	if !errors.Is(err, context.Canceled) || sum.Done != 0 {
		t.Fatalf("stopped run: done %d, %v", sum.Done, err)
	}
	ckpt, err := Options{Out: out}.checkpointPath(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ckpt); err != nil {
		t.Fatalf("no checkpoint after the stop: %v", err)
	}

	var resumed []string
	var mu sync.Mutex
	watch := slog.New(testenv.LogHook(func(msg string, attrs map[string]slog.Value) {
		if msg == "mcd resuming fine-tuning" {
			mu.Lock()
			resumed = append(resumed, attrs["completed_epochs"].String())
			mu.Unlock()
		}
	}))
	if sum, err := Run(context.Background(), plan, Options{DataRoot: root, Out: out, Data: pass, Log: watch}); err != nil || sum.Done != 1 {
		t.Fatalf("resumed run: done %d, %v", sum.Done, err)
	}
	if len(resumed) != 1 || resumed[0] != "1" {
		t.Fatalf("resumed after %v epochs, want 1", resumed)
	}
	if left, _ := filepath.Glob(filepath.Join(out, "checkpoints", "*")); len(left) > 0 {
		t.Errorf("checkpoints left after the record was written: %v", left)
	}

	var scores [2][]byte
	var records [2]*results.Record
	for i, dir := range []string{ref, out} {
		store, _ := results.OpenStore(dir)
		path, _ := store.ScoresPath(key)
		if scores[i], err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
		if records[i], err = store.Get(key); err != nil {
			t.Fatal(err)
		}
		records[i].Started, records[i].Seconds, records[i].Digest = time.Time{}, nil, ""
	}
	if !bytes.Equal(scores[0], scores[1]) {
		t.Error("the resumed cell's scores file differs from an uninterrupted run's")
	}
	a, _ := json.Marshal(records[0])
	b, _ := json.Marshal(records[1])
	if !bytes.Equal(a, b) {
		t.Errorf("the resumed cell's record differs from an uninterrupted run's (times aside):\n%s\n%s", b, a)
	}
}
