package mcd

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/ood"
)

func init() {
	ood.Register("mcd", "maximum classifier discrepancy after fine-tuning on an unlabelled ID+OOD pool (Yu & Aizawa, ICCV 2019)",
		Defaults, func(c Config) (ood.Detector, error) {
			if err := c.Validate(); err != nil {
				return nil, err
			}
			return &Detector{Config: c}, nil
		})
}

// Detector is MCD as an ood.Detector: Prepare fine-tunes a copy of the
// environment's model; Score returns the negated discrepancy of that copy.
type Detector struct {
	Config  Config
	model   *nets.Model
	history []Epoch
	best    int
	setting ood.Setting
	// accuracy is each head's accuracy, after fine-tuning, on every
	// labelled set scored (the ID test images), by set name.
	accuracy map[string][]float64
}

// Prepare implements ood.Preparer.
func (d *Detector) Prepare(ctx context.Context, env *ood.Env, data *ood.Data) error {
	cfg := d.Config
	if cfg.CheckpointEvery == 0 {
		cfg.CheckpointEvery = env.CheckpointEvery // the run's, when the plan sets none
	}
	r, err := FineTune(ctx, env, env.Model, data, cfg)
	if err != nil {
		return err
	}
	d.model, d.history, d.best, d.setting = r.Model, r.History, r.Best, data.Setting
	return nil
}

// Score implements ood.Detector.
func (d *Detector) Score(ctx context.Context, env *ood.Env, images *loaders.Dataset) ([]float64, error) {
	if d.model == nil {
		return nil, fmt.Errorf("mcd: Score before Prepare (fine-tuning)")
	}
	out, err := ood.PredictWith(ctx, env, d.model, images, false)
	if err != nil {
		return nil, err
	}
	if images.Labelled() {
		if d.accuracy == nil {
			d.accuracy = map[string][]float64{}
		}
		d.accuracy[images.Name] = out.Accuracy(images.Labels)
	}
	return discrepancy(out), nil
}

// Warnings implements ood.Warner: in the transductive setting the images
// scored are the unlabelled images fine-tuned on.
func (d *Detector) Warnings() []string {
	if d.setting == ood.Transductive {
		return []string{"transductive: MCD fine-tuned on the unlabelled test images it then scores, as in the paper"}
	}
	return nil
}

// Notes implements ood.Reporter.
func (d *Detector) Notes() []ood.Note {
	var auroc, disc []string
	for _, e := range d.history {
		auroc = append(auroc, strconv.FormatFloat(e.ValAUROC, 'f', 4, 64))
		disc = append(disc, strconv.FormatFloat(e.Discrepancy, 'f', 4, 64))
	}
	sel := "last epoch (no labelled OOD images used)"
	if d.Config.Selection == "val-auroc" {
		sel = "best validation AUROC on 1,000 ID + 1,000 labelled OOD validation images (as the authors)"
	}
	notes := []ood.Note{
		{Key: "setting", Value: string(d.setting)},
		{Key: "model_selection", Value: sel},
		{Key: "best_epoch", Value: strconv.Itoa(d.best)},
		{Key: "val_auroc_by_epoch", Value: strings.Join(auroc, " ")},
		{Key: "discrepancy_loss_by_epoch", Value: strings.Join(disc, " ")},
	}
	// What fine-tuning did to the classifier, on the labelled images
	// scored: "cifar10-test: head 1 0.9480, head 2 0.9470".
	names := make([]string, 0, len(d.accuracy))
	for name := range d.accuracy {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		var heads []string
		for h, a := range d.accuracy[name] {
			heads = append(heads, fmt.Sprintf("head %d %.4f", h+1, a))
		}
		notes = append(notes, ood.Note{Key: "accuracy_after_finetuning", Value: name + ": " + strings.Join(heads, ", ")})
	}
	return notes
}
