package mcd

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/baselines"
	"github.com/mcdood/mcdood/internal/numdiff"
	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/ood"
	"github.com/mcdood/mcdood/ood/oodtest"
)

// toyConfig fine-tunes quickly on the toy problem. With 3 classes the
// entropy is at most ln 3 ≈ 1.1, so the paper's margin 1.2 (for 10 or 100
// classes) is scaled to 0.6.
func toyConfig() Config {
	c := Defaults
	c.Epochs, c.Batch, c.UnlabelledBatch, c.StepsPerEpoch, c.LR, c.Margin = 10, 32, 32, 200, 0.05, 0.6
	return c
}

func TestConformance(t *testing.T) {
	c := toyConfig()
	oodtest.Conformance(t, "mcd", &c, 0.6)
}

// On the toy problem's far ring, where a ReLU classifier is confidently wrong,
// MSP fails; fine-tuning on the unlabelled pool (ID test + ring) must raise
// the discrepancy on ring points and beat MSP's AUROC, as in the paper.
func TestFineTuningSeparatesFarOOD(t *testing.T) {
	toy := oodtest.NewToy(t)
	ctx := context.Background()
	data := *toy.Data
	data.OODVal = toy.RingVal
	data.Unlabelled = loaders.Concat("pool", toy.IDTest, toy.Ring)
	msp := &baselines.MSP{Heads: nets.Head1}
	mspID, err := msp.Score(ctx, toy.Env, toy.IDTest)
	if err != nil {
		t.Fatal(err)
	}
	mspOOD, err := msp.Score(ctx, toy.Env, toy.Ring)
	if err != nil {
		t.Fatal(err)
	}
	before, err := Discrepancy(ctx, toy.Env, toy.Env.Model, toy.Ring)
	if err != nil {
		t.Fatal(err)
	}
	d := &Detector{Config: toyConfig()}
	if err := d.Prepare(ctx, toy.Env, &data); err != nil {
		t.Fatal(err)
	}
	after, err := d.Score(ctx, toy.Env, toy.Ring)
	if err != nil {
		t.Fatal(err)
	}
	id, err := d.Score(ctx, toy.Env, toy.IDTest)
	if err != nil {
		t.Fatal(err)
	}
	mean := func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	}
	// Scores are negated discrepancies: lower means more discrepancy.
	if mean(after) >= mean(before) {
		t.Errorf("mean ring discrepancy did not rise: %.4f before, %.4f after fine-tuning", -mean(before), -mean(after))
	}
	mcdAUROC, mspAUROC := oodtest.AUROC(t, id, after), oodtest.AUROC(t, mspID, mspOOD)
	t.Logf("ring: MSP AUROC %.3f, MCD AUROC %.3f, best epoch %d, history %+v", mspAUROC, mcdAUROC, d.best, d.history)
	if mcdAUROC <= mspAUROC || mcdAUROC < 0.9 {
		t.Errorf("MCD AUROC %.3f does not beat MSP's %.3f (or is below 0.9)", mcdAUROC, mspAUROC)
	}
	// The labelled set scored is reported with both heads' accuracy after
	// fine-tuning; the unlabelled ring is not.
	var acc []string
	for _, n := range d.Notes() {
		if n.Key == "accuracy_after_finetuning" {
			acc = append(acc, n.Value)
		}
	}
	var a1, a2 float64
	if len(acc) != 1 {
		t.Fatalf("accuracy notes %q, want one, for %s", acc, toy.IDTest.Name)
	}
	if _, err := fmt.Sscanf(acc[0], toy.IDTest.Name+": head 1 %f, head 2 %f", &a1, &a2); err != nil || a1 < 0.9 || a2 < 0.9 {
		t.Errorf("accuracy note %q: want both heads of %s at 0.9 or more (%v)", acc[0], toy.IDTest.Name, err)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, mutate := range []func(*Config){
		func(c *Config) { c.Epochs = 0 },
		func(c *Config) { c.LR = 0 },
		func(c *Config) { c.Margin = -1 },
		func(c *Config) { c.Selection = "best" },
		func(c *Config) { c.UnlabelledBatch = 0 },
		func(c *Config) { c.Head2 = "random" },
		func(c *Config) { c.Head2Epochs = 5 }, // without head2 = "fit"
		func(c *Config) { c.Head2, c.Head2Epochs = Head2Fit, -1 },
	} {
		c := Defaults
		mutate(&c)
		if _, err := ood.Lookup("mcd"); err != nil {
			t.Fatal(err)
		}
		if c.Validate() == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}

// TestStepsGradients checks both steps' parameter gradients against finite
// differences on a small two-head network: Step B's of its whole loss, and
// Step A's of CE1 + CE2 for the heads and of CE1 alone for the extractor
// (whose features head 2 sees detached).
func TestStepsGradients(t *testing.T) {
	spec, _ := nets.ParseSpec("small")
	m, err := nets.New(spec, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	fill := func(s *step) {
		for _, x := range []nets.Tensor{s.x, s.u} {
			for i := range s.Data(x) {
				s.Data(x)[i] = float32(rng.NormFloat64())
			}
		}
		for i := range s.Data(s.y) {
			s.Data(s.y)[i] = float32(rng.IntN(5))
		}
	}
	a, err := newStepA(m, 6)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := newStepB(m, 6, 5, 1.2)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, c := range []struct {
		name string
		s    *step
	}{{"step A", a}, {"step B", b}} {
		t.Run(c.name, func(t *testing.T) {
			s := c.s
			fill(s)
			if err := s.Run(); err != nil {
				t.Fatal(err)
			}
			if s == b {
				// The margin term from the logits, independently:
				// max(0, 1.2 − (H̄1 − H̄2)).
				meanH := func(z []float32) float64 {
					p, h := make([]float64, 5), 0.0
					for i := 0; i < len(z)/5; i++ {
						nets.Softmax(z[i*5:(i+1)*5], 1, p)
						for _, v := range p {
							h -= v * math.Log(v) / float64(len(z)/5)
						}
					}
					return h
				}
				want := math.Max(0, 1.2-(meanH(s.Data(s.u1))-meanH(s.Data(s.u2))))
				if got := s.losses()[2]; math.Abs(got-want) > 1e-5 || got <= 0 {
					t.Fatalf("margin term %v, want max(0, 1.2 − (H̄1 − H̄2)) = %v (and active, for the check below)", got, want)
				}
			}
			grads := s.Grads()
			for i, par := range s.Params() {
				objective := s.Loss
				if s == a && !strings.HasPrefix(par.Name, "head") {
					objective = func() float64 { return s.losses()[0] }
				}
				run := func() float64 {
					if err := s.Run(); err != nil {
						t.Fatal(err)
					}
					return objective()
				}
				analytic := append([]float32(nil), grads[i]...)
				picks := rng.Perm(len(par.Data()))[:min(4, len(par.Data()))]
				numdiff.Check(t, par.Name, run, par.Data(), analytic, picks, numdiff.Fixed(1e-2), 3e-3, 3e-2)
			}
		})
	}
}

// The study's variants run on the toy problem and keep what they promise:
// training only the heads leaves the extractor as it was (and the others
// change it); the label-free selection records a held-out gap per epoch,
// keeps the epoch with the largest, and uses no validation images. The
// ring AUROC of each is logged, not judged: four toy epochs say nothing of
// how the variants compare on images (the README's ablation does).
func TestFineTuningVariants(t *testing.T) {
	toy := oodtest.NewToy(t)
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		change func(*Config)
	}{
		{"heads", func(c *Config) { c.Train = "heads" }},
		{"heads-in-b", func(c *Config) { c.Train = "heads-in-b" }},
		{"heldout-gap", func(c *Config) { c.Selection, c.HeldOut = "heldout-gap", 100 }},
		{"discrepancy sampling", func(c *Config) { c.PoolSampling = "discrepancy" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := toyConfig()
			cfg.Epochs = 4
			c.change(&cfg)
			data := *toy.Data
			data.OODVal = toy.RingVal
			data.Unlabelled = loaders.Concat("pool", toy.IDTest, toy.Ring)
			if cfg.Selection == "heldout-gap" {
				data.IDVal, data.OODVal = nil, nil // label-free: no validation images at all
			}
			r, err := FineTune(ctx, toy.Env, toy.Env.Model, &data, cfg)
			if err != nil {
				t.Fatal(err)
			}
			m, hist, best := r.Model, r.History, r.Best
			if len(hist) != 4 || best < 1 {
				t.Fatalf("history %+v, best %d", hist, best)
			}
			for i, p := range m.Params() {
				frozen := cfg.Train == "heads" && !p.InHead()
				same := slices.Equal(p.Data(), toy.Env.Model.Params()[i].Data())
				if frozen != same {
					t.Errorf("%s: unchanged %v, want %v", p.Name, same, frozen)
				}
			}
			if cfg.Selection == "heldout-gap" {
				for _, e := range hist {
					if math.IsNaN(e.HeldOutGap) || !math.IsNaN(e.ValAUROC) {
						t.Fatalf("epoch %+v", e)
					}
				}
				if g := hist[best-1].HeldOutGap; slices.ContainsFunc(hist, func(e Epoch) bool { return e.HeldOutGap > g }) {
					t.Errorf("kept epoch %d (gap %v), not the largest gap: %+v", best, g, hist)
				}
			}
			d := &Detector{Config: cfg, model: m}
			id, err := d.Score(ctx, toy.Env, toy.IDTest)
			if err != nil {
				t.Fatal(err)
			}
			ring, err := d.Score(ctx, toy.Env, toy.Ring)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("ring AUROC %.3f", oodtest.AUROC(t, id, ring))
		})
	}
	for _, bad := range []func(*Config){
		func(c *Config) { c.Train = "extractor" },
		func(c *Config) { c.PoolSampling = "balanced" },
		func(c *Config) { c.Selection, c.HeldOut = "heldout-gap", 0 },
	} {
		c := Defaults
		bad(&c)
		if c.Validate() == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}
