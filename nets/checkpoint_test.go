package nets

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// toySource is a tiny labelled set of images whose class is visible in
// the pixels, flipped left to right at random when it augments and an rng
// is given (a Source of the tests, which read no data files).
type toySource struct {
	pixels  []float32
	labels  []int
	k       int
	augment bool
}

func toyData(n, classes int, seed uint64) *toySource {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := &toySource{pixels: make([]float32, n*ImageSize), labels: make([]int, n), k: classes, augment: true}
	for i := 0; i < n; i++ {
		l := rng.IntN(classes)
		d.labels[i] = l
		for j := range ImageSize {
			d.pixels[i*ImageSize+j] = float32(rng.IntN(64)+48*l)/128 - 1
		}
	}
	return d
}

func (d *toySource) Len() int      { return len(d.labels) }
func (d *toySource) Classes() int  { return d.k }
func (d *toySource) Labels() []int { return d.labels }
func (d *toySource) Name() string  { return "toy" }
func (d *toySource) Fill(dst []float32, labels []int, idx []int, rng *rand.Rand, _ int) {
	for j, i := range idx {
		flip := d.augment && rng != nil && rng.IntN(2) == 1
		src, out := d.pixels[i*ImageSize:(i+1)*ImageSize], dst[j*ImageSize:(j+1)*ImageSize]
		for r := 0; r < ImageChannels*ImageSide; r++ {
			for c := 0; c < ImageSide; c++ {
				sc := c
				if flip {
					sc = ImageSide - 1 - c
				}
				out[r*ImageSide+c] = src[r*ImageSide+sc]
			}
		}
		if labels != nil {
			labels[j] = d.labels[i]
		}
	}
}

func toyRecipe(epochs int) TrainConfig {
	return TrainConfig{Epochs: epochs, Batch: 8, Momentum: 0.9, WeightDecay: 5e-4, Schedule: Constant(0.05), Seed: 42}
}

func TestCheckpointRoundTrip(t *testing.T) {
	spec, _ := ParseSpec("small")
	m, opt, _, err := resumeOrNew(spec, 3, toyRecipe(1), TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	opt.velocity["conv1.w"] = make([]float32, len(m.byName["conv1.w"].Data()))
	opt.velocity["conv1.w"][5] = 0.25
	m.bn["bn2"].Mean[3] = 1.5
	path := filepath.Join(t.TempDir(), "m.ckpt")
	if err := SaveCheckpoint(path, m, State{Epoch: 7, Meta: map[string]string{"recipe": "r1"}, SGD: opt}); err != nil {
		t.Fatal(err)
	}
	m2, st, err := LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Epoch != 7 || st.Meta["recipe"] != "r1" || st.SGD.velocity["conv1.w"][5] != 0.25 || m2.bn["bn2"].Mean[3] != 1.5 {
		t.Fatalf("state not restored: epoch %d meta %v", st.Epoch, st.Meta)
	}
	for i, p := range m.Params() {
		q := m2.Params()[i]
		if p.Name != q.Name {
			t.Fatalf("parameter order %s vs %s", p.Name, q.Name)
		}
		for j := range p.Data() {
			if p.Data()[j] != q.Data()[j] {
				t.Fatalf("%s[%d] = %v after load, want %v", p.Name, j, q.Data()[j], p.Data()[j])
			}
		}
	}
}

// A checkpoint with further models and a payload (version 2) gives them
// back bit for bit; one without either is still written as version 1, and
// with a payload cut short it is refused.
func TestCheckpointFurtherModelsAndPayload(t *testing.T) {
	spec, _ := ParseSpec("small")
	m, err := New(spec, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	best := m.Clone()
	best.Params()[2].Data()[1] = 0.125
	best.bn["bn1"].Var[0] = 3
	dir := t.TempDir()
	plain, full := filepath.Join(dir, "plain.ckpt"), filepath.Join(dir, "full.ckpt")
	if err := SaveCheckpoint(plain, m, State{Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	payload := []byte("the loop's own state")
	if err := SaveCheckpoint(full, m, State{Epoch: 2, Models: map[string]*Model{"best": best}, Payload: payload}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]byte{plain: 1, full: 2} {
		raw, _ := os.ReadFile(path)
		if raw[len(checkpointMagic)] != want {
			t.Errorf("%s: format version %d, want %d", path, raw[len(checkpointMagic)], want)
		}
	}
	m2, st, err := LoadCheckpoint(full)
	if err != nil {
		t.Fatal(err)
	}
	b2 := st.Models["best"]
	if len(st.Models) != 1 || b2 == nil || string(st.Payload) != string(payload) || b2.bn["bn1"].Var[0] != 3 {
		t.Fatalf("state not restored: models %v, payload %q", st.Models, st.Payload)
	}
	for i, p := range m.Params() {
		if !slices.Equal(p.Data(), m2.Params()[i].Data()) || !slices.Equal(best.Params()[i].Data(), b2.Params()[i].Data()) {
			t.Fatalf("%s differs after load", p.Name)
		}
	}
	if _, st, err := LoadCheckpoint(plain); err != nil || st.Models != nil || st.Payload != nil {
		t.Fatalf("version 1 file: %v, models %v, payload %q", err, st.Models, st.Payload)
	}
	other, _ := New(Spec{Name: "mlp-8", Family: "mlp", Width: 8}, 3, 1)
	if err := SaveCheckpoint(filepath.Join(dir, "x.ckpt"), m, State{Models: map[string]*Model{"best": other}}); err == nil {
		t.Error("a further model of another architecture was saved")
	}
}

func TestCorruptCheckpointIsRefused(t *testing.T) {
	spec, _ := ParseSpec("small")
	m, err := New(spec, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.ckpt")
	if err := SaveCheckpoint(good, m, State{Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(good)
	cases := map[string][]byte{
		"flipped byte": func() []byte { b := append([]byte(nil), raw...); b[len(b)/2] ^= 0x40; return b }(),
		"truncated":    raw[:len(raw)-100],
		"empty":        {},
		"foreign":      []byte("PK\x03\x04 this is a zip file, not a checkpoint at all......................"),
	}
	for name, data := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		os.WriteFile(path, data, 0o644)
		_, _, err := LoadCheckpoint(path)
		if !errors.Is(err, ErrCheckpoint) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want ErrCheckpoint naming the file", name, err)
		}
	}
}

// TestResumeMatchesUninterruptedRun trains 2 epochs straight, and 1 epoch then
// a resumed second one; the weights must agree bit for bit.
func TestResumeMatchesUninterruptedRun(t *testing.T) {
	spec, _ := ParseSpec("small")
	data := toyData(40, 3, 9)
	ctx := context.Background()
	straight, _, err := Train(ctx, spec, data, toyRecipe(2), TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "run.ckpt")
	opts := TrainOptions{Checkpoint: path, Meta: map[string]string{"recipe": "toy"}}
	if _, _, err := Train(ctx, spec, data, toyRecipe(1), opts); err != nil {
		t.Fatal(err)
	}
	resumed, hist, err := Train(ctx, spec, data, toyRecipe(2), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].Epoch != 2 {
		t.Fatalf("resumed run trained epochs %+v, want only epoch 2", hist)
	}
	for i, p := range straight.Params() {
		for j, v := range p.Data() {
			if resumed.Params()[i].Data()[j] != v {
				t.Fatalf("%s[%d]: resumed %v, uninterrupted %v", p.Name, j, resumed.Params()[i].Data()[j], v)
			}
		}
	}
	for name, s := range straight.bn {
		for j, v := range s.Var {
			if resumed.bn[name].Var[j] != v {
				t.Fatalf("BN %s running variance differs after resume", name)
			}
		}
	}
	// A checkpoint of another recipe is refused, not silently continued.
	opts.Meta = map[string]string{"recipe": "other"}
	if _, _, err := Train(ctx, spec, data, toyRecipe(3), opts); !errors.Is(err, ErrCheckpoint) {
		t.Fatalf("resuming with another recipe: %v", err)
	}
}

func TestTrainingLearnsToyTask(t *testing.T) {
	spec, _ := ParseSpec("small")
	data := toyData(96, 3, 1)
	test := toyData(48, 3, 2)
	cfg := toyRecipe(6)
	data.augment = false
	m, hist, err := Train(context.Background(), spec, data, cfg, TrainOptions{Test: test})
	if err != nil {
		t.Fatal(err)
	}
	last := hist[len(hist)-1]
	if last.Accuracy[0] < 0.9 || last.Loss >= hist[0].Loss {
		t.Fatalf("after %d epochs: loss %v (first %v), test accuracy %v", len(hist), last.Loss, hist[0].Loss, last.Accuracy)
	}
	_ = m
}

// cancelAfter is a log handler that cancels a run once epoch n is logged
// done: a run killed between epochs (its checkpoint holds epoch n).
type cancelAfter struct {
	n      int
	cancel context.CancelFunc
}

func (h cancelAfter) Enabled(context.Context, slog.Level) bool { return true }
func (h cancelAfter) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "epoch" && r.Message == "epoch done" && a.Value.Int64() == int64(h.n) {
			h.cancel()
		}
		return true
	})
	return nil
}
func (h cancelAfter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h cancelAfter) WithGroup(string) slog.Handler      { return h }

// TestResumeWithAirbenchRecipe: a run with every airbench option — the
// triangle schedule, label smoothing, scaled shift learning rates, the
// whitening bias frozen after epoch 1, the weight average from epoch 1 —
// killed after epoch 2 and resumed ends bit for bit where the
// uninterrupted run does, and the frozen filters never move.
func TestResumeWithAirbenchRecipe(t *testing.T) {
	spec, _ := ParseSpec("airbench-8-8-16")
	data := toyData(48, 3, 5)
	cfg := TrainConfig{Epochs: 3, Batch: 8, Momentum: 0.85, WeightDecay: 5e-4, Nesterov: true, Seed: 3,
		Schedule:       OneCycle{Peak: 0.05, PeakAt: 0.7, Epochs: 3, Start: 0.2, End: 0.07},
		LabelSmoothing: 0.2, NormShiftLRScale: 8, EarlyOnlyEpochs: 1, EMA: &EMA{Start: 1, Every: 2, Decay: 0.9, Power: 3}}
	straight, _, err := Train(context.Background(), spec, data, cfg, TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "run.ckpt")
	ctx, cancel := context.WithCancel(context.Background())
	opts := TrainOptions{Checkpoint: path, Meta: map[string]string{"recipe": "airbench"}, Log: slog.New(cancelAfter{2, cancel})}
	if _, _, err := Train(ctx, spec, data, cfg, opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("the killed run: %v", err)
	}
	opts.Log = nil
	resumed, hist, err := Train(context.Background(), spec, data, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].Epoch != 3 {
		t.Fatalf("resumed run trained epochs %+v, want only epoch 3", hist)
	}
	fresh, err := New(spec, 3, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh.InitFromData(data); err != nil {
		t.Fatal(err)
	}
	for i, p := range straight.Params() {
		for j, v := range p.Data() {
			if resumed.Params()[i].Data()[j] != v {
				t.Fatalf("%s[%d]: resumed %v, uninterrupted %v", p.Name, j, resumed.Params()[i].Data()[j], v)
			}
		}
		if p.Role == Frozen && !slices.Equal(p.Data(), fresh.Params()[i].Data()) {
			t.Errorf("frozen %s changed in training", p.Name)
		}
	}
	for name, s := range straight.bn {
		if !slices.Equal(s.Mean, resumed.bn[name].Mean) || !slices.Equal(s.Var, resumed.bn[name].Var) {
			t.Fatalf("BN %s running statistics differ after resume", name)
		}
	}
}
