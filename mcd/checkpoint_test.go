package mcd

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mcdood/mcdood/internal/testenv"
	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/ood"
	"github.com/mcdood/mcdood/ood/oodtest"
)

// A resume case: a fine-tuning on the toy problem, short enough to run
// three times in a test, and where to interrupt it.
type resumeCase struct {
	name string
	wrn  bool // a WRN with batch norm and dropout instead of the toy's MLP
	cfg  func(*Config)
	// The interruption: after the checkpoint of this many complete
	// epochs and steps of the next.
	epochs, step int
}

var resumeCases = []resumeCase{
	{name: "toy", cfg: func(*Config) {}, epochs: 1},
	{name: "wrn dropout augment", wrn: true, cfg: func(c *Config) {
		c.Batch, c.UnlabelledBatch, c.StepsPerEpoch, c.Augment = 4, 4, 2, true
	}, epochs: 2},
	{name: "discrepancy sampling, every 7 steps", cfg: func(c *Config) {
		c.PoolSampling, c.CheckpointEvery = "discrepancy", 7
	}, epochs: 1, step: 8}, // step 28 of the fine-tuning
	{name: "heldout-gap, head2 fit, heads", cfg: func(c *Config) {
		c.Selection, c.HeldOut, c.Head2, c.Head2Epochs, c.Train = "heldout-gap", 100, Head2Fit, 2, "heads"
	}, epochs: 2},
	{name: "discrepancy sampling, at an epoch's end", cfg: func(c *Config) { c.PoolSampling = "discrepancy" }, epochs: 2},
	// The fitted head 2 is checkpointed before the first epoch.
	{name: "head2 fit, before the first epoch", cfg: func(c *Config) { c.Head2, c.Head2Epochs = Head2Fit, 2 }},
}

// wrnModel is a random WRN-10-1 with dropout 0.3: batch norm and dropout
// are state a checkpoint must carry (the toy's MLP has neither).
var wrnModel = sync.OnceValues(func() (*nets.Model, error) {
	spec, err := nets.ParseSpec("wrn-10-1")
	if err != nil {
		return nil, err
	}
	spec.Dropout = 0.3
	return nets.New(spec, 3, 9)
})

// setup gives a case's environment (a copy of the toy's, with a memo and
// the checkpoint of its own), data and configuration.
func (c resumeCase) setup(t *testing.T, checkpoint string) (*ood.Env, *ood.Data, Config) {
	t.Helper()
	toy := oodtest.NewToy(t)
	env := *toy.Env
	env.Memo, env.Checkpoint = &ood.Memo{}, checkpoint
	if c.wrn {
		m, err := wrnModel()
		if err != nil {
			t.Fatal(err)
		}
		env.Model = m
	}
	data := *toy.Data
	data.OODVal = toy.RingVal
	data.Unlabelled = loaders.Concat("pool", toy.IDTest, toy.Ring)
	if c.wrn {
		// Evaluating the WRN is what takes time here.
		data.IDVal, data.OODVal = data.IDVal.Head(16), data.OODVal.Head(16)
	}
	cfg := toyConfig()
	cfg.Epochs, cfg.StepsPerEpoch = 3, 20
	c.cfg(&cfg)
	return &env, &data, cfg
}

// outcome is what a fine-tuning gives: the selected model's scores of the
// validation images (ID, then the ring's), the history and the best epoch.
type outcome struct {
	scores  []float64
	history []Epoch
	best    int
}

func fineTuneOutcome(ctx context.Context, t *testing.T, env *ood.Env, data *ood.Data, cfg Config) (outcome, error) {
	t.Helper()
	r, err := FineTune(ctx, env, env.Model, data, cfg)
	if err != nil {
		return outcome{}, err
	}
	m := r.Model
	id, err := Discrepancy(context.Background(), env, m, data.IDVal)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := Discrepancy(context.Background(), env, m, data.OODVal)
	if err != nil {
		t.Fatal(err)
	}
	return outcome{append(id, ring...), r.History, r.Best}, nil
}

// same fails the test unless got is want to the last bit (the epochs'
// seconds aside).
func (want outcome) same(t *testing.T, got outcome) {
	t.Helper()
	if got.best != want.best || len(got.scores) != len(want.scores) || len(got.history) != len(want.history) {
		t.Fatalf("best epoch %d, %d scores, %d epochs; want %d, %d, %d", got.best, len(got.scores), len(got.history),
			want.best, len(want.scores), len(want.history))
	}
	for i := range want.scores {
		if math.Float64bits(got.scores[i]) != math.Float64bits(want.scores[i]) {
			t.Fatalf("score %d is %v, an uninterrupted run's %v", i, got.scores[i], want.scores[i])
		}
	}
	bits := func(e Epoch) [6]uint64 {
		return [6]uint64{uint64(e.Epoch), math.Float64bits(e.CE1), math.Float64bits(e.CE2), math.Float64bits(e.Discrepancy),
			math.Float64bits(e.ValAUROC), math.Float64bits(e.HeldOutGap)}
	}
	for i := range want.history {
		if bits(got.history[i]) != bits(want.history[i]) {
			t.Fatalf("epoch %d: %+v, an uninterrupted run's %+v", i+1, got.history[i], want.history[i])
		}
	}
}

// events records what a fine-tuning logged about its checkpoint: where it
// resumed ("" when it did not), and the warnings.
type events struct {
	mu       sync.Mutex
	resumed  []string // "epochs/step"
	warnings []string
}

func (ev *events) hook(then func(msg string, attrs map[string]slog.Value)) *slog.Logger {
	return slog.New(testenv.LogHook(func(msg string, attrs map[string]slog.Value) {
		ev.mu.Lock()
		switch {
		case msg == "mcd resuming fine-tuning":
			ev.resumed = append(ev.resumed, attrs["completed_epochs"].String()+"/"+attrs["step"].String())
		case strings.Contains(msg, "discarded"):
			ev.warnings = append(ev.warnings, msg+": "+attrs["error"].String())
		}
		ev.mu.Unlock()
		if then != nil {
			then(msg, attrs)
		}
	}))
}

// atCheckpoint reports whether a log record is the checkpoint after epochs
// complete epochs and step steps of the next.
func atCheckpoint(msg string, attrs map[string]slog.Value, epochs, step int) bool {
	return msg == "mcd checkpoint written" && attrs["completed_epochs"].Int64() == int64(epochs) && attrs["step"].Int64() == int64(step)
}

// interrupt runs a case's fine-tuning with a checkpoint and cancels it right
// after the checkpoint it names (as SIGTERM does: the command's context is
// cancelled).
func (c resumeCase) interrupt(t *testing.T, path string) {
	t.Helper()
	env, data, cfg := c.setup(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ev events
	env.Log = ev.hook(func(msg string, attrs map[string]slog.Value) {
		if atCheckpoint(msg, attrs, c.epochs, c.step) {
			cancel()
		}
	})
	if _, err := fineTuneOutcome(ctx, t, env, data, cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted fine-tuning: %v, want it cancelled", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no checkpoint after the interruption: %v", err)
	}
}

// resume runs a case's fine-tuning from the checkpoint at path to its end
// and says where it resumed.
func (c resumeCase) resume(t *testing.T, path string) (outcome, *events) {
	t.Helper()
	env, data, cfg := c.setup(t, path)
	ev := &events{}
	env.Log = ev.hook(nil)
	got, err := fineTuneOutcome(context.Background(), t, env, data, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return got, ev
}

func (c resumeCase) reference(t *testing.T) outcome {
	t.Helper()
	env, data, cfg := c.setup(t, "")
	want, err := fineTuneOutcome(context.Background(), t, env, data, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// A fine-tuning cancelled after a checkpoint (at an epoch's end, or within
// an epoch with checkpoint_every) and run again resumes there, and its
// scores, history and best epoch are an uninterrupted run's to the last bit
// — with batch norm, dropout, augmentation, discrepancy sampling, the
// label-free selection and a fitted head 2. Run once more after its end, it
// gives the same result from the final checkpoint without training.
func TestResumeAfterCancelIsBitIdentical(t *testing.T) {
	for _, c := range resumeCases {
		t.Run(c.name, func(t *testing.T) {
			want := c.reference(t)
			path := filepath.Join(t.TempDir(), "cell.ckpt")
			c.interrupt(t, path)
			got, ev := c.resume(t, path)
			if want := []string{strconv.Itoa(c.epochs) + "/" + strconv.Itoa(c.step)}; !slices.Equal(ev.resumed, want) || len(ev.warnings) > 0 {
				t.Fatalf("resumed at %v (warnings %q), want %v", ev.resumed, ev.warnings, want)
			}
			want.same(t, got)
			// The finished fine-tuning's checkpoint stays (the runner
			// removes it with the record written) and gives the result.
			again, ev := c.resume(t, path)
			if want := []string{"3/0"}; !slices.Equal(ev.resumed, want) {
				t.Fatalf("rerun resumed at %v, want %v", ev.resumed, want)
			}
			want.same(t, again)
		})
	}
}

// A truncated or corrupted checkpoint is detected (its checksum) and
// discarded with a warning naming the file; fine-tuning starts over and
// gives an uninterrupted run's result.
func TestCorruptCheckpointIsDiscarded(t *testing.T) {
	c := resumeCases[0]
	want := c.reference(t)
	path := filepath.Join(t.TempDir(), "cell.ckpt")
	c.interrupt(t, path)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"truncated":    good[:len(good)*2/3],
		"flipped byte": func() []byte { b := slices.Clone(good); b[len(b)-100] ^= 1; return b }(),
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			env, data, cfg := c.setup(t, path)
			_, err := loadCheckpoint(path, fingerprint(env, env.Model, data, cfg), env.Model, cfg, cfg.StepsPerEpoch, data.Train, data.Unlabelled)
			if !errors.Is(err, nets.ErrCheckpoint) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "checksum") {
				t.Fatalf("reading it: %v, want a checksum error naming the file", err)
			}
			got, ev := c.resume(t, path)
			if len(ev.resumed) > 0 || len(ev.warnings) != 1 || !strings.Contains(ev.warnings[0], path) {
				t.Fatalf("resumed at %v, warnings %q: want a warning naming the file and a new start", ev.resumed, ev.warnings)
			}
			want.same(t, got)
		})
	}
}

// A checkpoint written for another configuration (here another learning
// rate; or another seed) is never used, though it sits at the cell's path;
// one written with another checkpoint_every is, since that changes no
// result.
func TestCheckpointOfAnotherConfigurationIsNotUsed(t *testing.T) {
	c := resumeCases[0]
	path := filepath.Join(t.TempDir(), "cell.ckpt")
	c.interrupt(t, path)
	for _, other := range []struct {
		name   string
		change func(*ood.Env, *Config)
		use    bool
	}{
		{"lr", func(_ *ood.Env, cfg *Config) { cfg.LR = 0.04 }, false},
		{"seed", func(env *ood.Env, _ *Config) { env.Seed++ }, false},
		{"checkpoint_every", func(_ *ood.Env, cfg *Config) { cfg.CheckpointEvery = 5 }, true},
	} {
		t.Run(other.name, func(t *testing.T) {
			env, data, cfg := c.setup(t, path)
			other.change(env, &cfg)
			r, err := loadCheckpoint(path, fingerprint(env, env.Model, data, cfg), env.Model, cfg, cfg.StepsPerEpoch, data.Train, data.Unlabelled)
			if other.use {
				if err != nil || r == nil || r.state.Epochs != c.epochs {
					t.Fatalf("not resumed: %v", err)
				}
				return
			}
			if r != nil || !errors.Is(err, nets.ErrCheckpoint) || !strings.Contains(err.Error(), "another configuration") || !strings.Contains(err.Error(), path) {
				t.Fatalf("checkpoint of another configuration: %v (used: %v)", err, r != nil)
			}
		})
	}
	// Fine-tuning with the other configuration starts over, with a
	// warning, and gets that configuration's result.
	env, data, cfg := c.setup(t, "")
	cfg.LR = 0.04
	want, err := fineTuneOutcome(context.Background(), t, env, data, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ev events
	env.Checkpoint, env.Log = path, ev.hook(nil)
	got, err := fineTuneOutcome(context.Background(), t, env, data, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.resumed) > 0 || len(ev.warnings) != 1 {
		t.Fatalf("resumed at %v, warnings %q", ev.resumed, ev.warnings)
	}
	want.same(t, got)
}

// checkpoint_every changes no result, so it is left out of the
// configuration's JSON — the cell key hashes it, the record shows it — and
// the keys of existing cells stay as they were.
func TestCheckpointEveryIsNotConfiguration(t *testing.T) {
	c := Defaults
	plain, _ := json.Marshal(c)
	c.CheckpointEvery = 500
	every, _ := json.Marshal(c)
	if string(plain) != string(every) || strings.Contains(string(every), "500") {
		t.Errorf("checkpoint_every in the configuration's JSON: %s", every)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	c.CheckpointEvery = -1
	if c.Validate() == nil {
		t.Error("checkpoint_every -1 accepted")
	}
}
