package mcd

import (
	"context"
	"testing"

	"github.com/mcdood/mcdood/baselines"
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
	data.Unlabelled = ood.Concat("pool", toy.IDTest, toy.Ring)
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
}

func TestConfigValidation(t *testing.T) {
	for _, mutate := range []func(*Config){
		func(c *Config) { c.Epochs = 0 },
		func(c *Config) { c.LR = 0 },
		func(c *Config) { c.Margin = -1 },
		func(c *Config) { c.Selection = "best" },
		func(c *Config) { c.UnlabelledBatch = 0 },
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
