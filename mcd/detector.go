package mcd

import (
	"context"
	"fmt"
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
}

// Prepare implements ood.Preparer.
func (d *Detector) Prepare(ctx context.Context, env *ood.Env, data *ood.Data) error {
	m, hist, best, err := FineTune(ctx, env, env.Model, data, d.Config)
	if err != nil {
		return err
	}
	d.model, d.history, d.best, d.setting = m, hist, best, data.Setting
	return nil
}

// Score implements ood.Detector.
func (d *Detector) Score(ctx context.Context, env *ood.Env, images *loaders.Dataset) ([]float64, error) {
	if d.model == nil {
		return nil, fmt.Errorf("mcd: Score before Prepare (fine-tuning)")
	}
	return Discrepancy(ctx, env, d.model, images)
}

// Model is the fine-tuned network kept for scoring (nil before Prepare).
func (d *Detector) Model() *nets.Model { return d.model }

// History is the fine-tuning history.
func (d *Detector) History() []Epoch { return d.history }

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
	return []ood.Note{
		{Key: "setting", Value: string(d.setting)},
		{Key: "model_selection", Value: sel},
		{Key: "best_epoch", Value: strconv.Itoa(d.best)},
		{Key: "val_auroc_by_epoch", Value: strings.Join(auroc, " ")},
		{Key: "discrepancy_loss_by_epoch", Value: strings.Join(disc, " ")},
	}
}
