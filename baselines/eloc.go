package baselines

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/ood"
)

// ELOCConfig configures the ensemble of leave-out classifiers. The defaults
// are those of the reimplementation by Yu & Aizawa's first author
// (github YU1ut/Ensemble-of-Leave-out-Classifiers), whose numbers the MCD
// paper's Table 2 quotes: 5 classifiers, margin 0.4, β = 0.2, T = 1000,
// ε = 0.002.
type ELOCConfig struct {
	// Folds is K, the number of classifiers; each leaves out Classes/K
	// classes (2 of CIFAR-10's 10).
	Folds int `toml:"folds"`
	// Partition, when given, lists each classifier's left-out classes
	// (Folds lists, disjoint). Empty: numpy's permutation of the classes
	// with seed PartitionSeed cut into Folds chunks, as the reimplementation
	// does (seed 3: CIFAR-10 fold 1 leaves out dog and deer).
	Partition     [][]int `toml:"partition"`
	PartitionSeed int     `toml:"partition_seed"`
	// Margin and Weight are the entropy-margin term's m and β: a
	// classifier's mean entropy on its left-out classes must exceed that on
	// its own classes by m.
	Margin float64 `toml:"margin"`
	Weight float64 `toml:"weight"`
	// OutlierBatch is how many left-out images each training step takes
	// beside the recipe's batch; 0 keeps their share of the training set
	// (batch/4 at 2 of 10 classes), so that an epoch passes over them once.
	// The reimplementation takes as many as the batch (100 + 100), which
	// costs twice a pre-training per classifier.
	OutlierBatch int `toml:"outlier_batch"`
	// Temperature and Epsilon are ODIN's T and ε, applied to each
	// classifier (ε in pixel units).
	Temperature float64 `toml:"temperature"`
	Epsilon     float64 `toml:"epsilon"`
	// Heads is the head each two-head classifier scores with (head1, head2
	// or mean); both heads are trained.
	Heads string `toml:"heads"`
}

// ELOCDefaults is ELOC's default configuration.
var ELOCDefaults = ELOCConfig{Folds: 5, PartitionSeed: 3, Margin: 0.4, Weight: 0.2, Temperature: 1000, Epsilon: 0.002, Heads: "head1"}

func init() {
	ood.Register("eloc", "ensemble of leave-out classifiers with an entropy margin, scored with ODIN (Vyas et al., ECCV 2018)",
		ELOCDefaults, func(c ELOCConfig) (ood.Detector, error) {
			h, err := nets.ParseHeadMode(c.Heads)
			if err != nil {
				return nil, err
			}
			switch {
			case c.Folds < 2:
				return nil, fmt.Errorf("eloc: folds %d: want at least 2", c.Folds)
			case len(c.Partition) != 0 && len(c.Partition) != c.Folds:
				return nil, fmt.Errorf("eloc: partition lists %d folds, folds is %d", len(c.Partition), c.Folds)
			case c.Margin < 0 || c.Weight < 0 || c.OutlierBatch < 0:
				return nil, fmt.Errorf("eloc: margin %v, weight %v and outlier_batch %d must not be negative", c.Margin, c.Weight, c.OutlierBatch)
			case c.Temperature <= 0 || c.Epsilon < 0:
				return nil, fmt.Errorf("eloc: temperature %v must be positive and epsilon %v not negative", c.Temperature, c.Epsilon)
			case c.PartitionSeed < 0 || c.PartitionSeed > math.MaxUint32:
				return nil, fmt.Errorf("eloc: partition_seed %d: want 0 to 2^32−1 (a numpy seed)", c.PartitionSeed)
			}
			return &ELOC{Config: c, heads: h}, nil
		})
}

// ELOC (Vyas, Jammalamadaka, Zhu, Das, Kaul & Willke, "Out-of-Distribution
// Detection Using an Ensemble of Self Supervised Leave-out Classifiers",
// ECCV 2018) trains K classifiers, each on the ID classes but a different
// 1/K of them, with cross-entropy plus β·max(0, m + H̄(own) − H̄(left out))
// — the left-out classes stand in for OOD data. An image's score is
//
//	Σ_k [max_c S_c(x̃; T) − H(S(x̃; T))]
//
// over the classifiers, S the softmax of classifier k at temperature T and
// x̃ the image after ODIN's perturbation for that classifier. The
// classifiers are the plan's network and recipe (one pre-training each,
// through the runner's model cache), not the paper's DenseNet for 100
// epochs, and no OOD images are used.
type ELOC struct {
	Config ELOCConfig
	heads  nets.HeadMode
	folds  []elocFold
}

type elocFold struct {
	out, in []int // left-out classes; the classifier's own, its class k is in[k]
	model   *nets.Model
}

// Train implements ood.Trainer: one leave-out classifier per fold.
func (d *ELOC) Train(ctx context.Context, env *ood.Env, data *ood.Data, pre ood.Pretrainer) error {
	if data.Train == nil || !data.Train.Labelled() {
		return fmt.Errorf("eloc: needs the labelled training set")
	}
	parts, err := d.partition(data.Train.Classes)
	if err != nil {
		return err
	}
	d.folds = nil
	for f, out := range parts {
		fold := elocFold{out: out}
		for _, c := range d.order(data.Train.Classes) {
			if !slices.Contains(out, c) {
				fold.in = append(fold.in, c)
			}
		}
		local := make([]int, data.Train.Classes)
		for c := range local {
			local[c] = slices.Index(fold.in, c) // −1 for left-out classes
		}
		var inIdx, outIdx []int
		for i, l := range data.Train.Labels {
			if local[l] < 0 {
				outIdx = append(outIdx, i)
			} else {
				inIdx = append(inIdx, i)
			}
		}
		if len(inIdx) == 0 || len(outIdx) == 0 {
			return fmt.Errorf("eloc: fold %d has %d training images of its classes and %d of the left-out ones", f+1, len(inIdx), len(outIdx))
		}
		train := data.Train.Subset(fmt.Sprintf("%s without classes %v", data.Train.Name, out), inIdx)
		for i, l := range train.Labels {
			train.Labels[i] = local[l]
		}
		train.Classes = len(fold.in)
		held := data.Train.Subset(fmt.Sprintf("%s classes %v", data.Train.Name, out), outIdx)
		held.Labels, held.Classes = nil, 0
		job := ood.TrainJob{Key: d.jobKey(f, fold), Train: train, Outliers: held, OutlierBatch: d.Config.OutlierBatch,
			Margin: d.Config.Margin, Weight: d.Config.Weight}
		env.Logger().Info("eloc classifier", "fold", f+1, "of", len(parts), "left_out", out, "images", len(inIdx), "held_out_images", len(outIdx))
		if fold.model, err = pre.Pretrain(ctx, job); err != nil {
			return fmt.Errorf("eloc: fold %d: %w", f+1, err)
		}
		d.folds = append(d.folds, fold)
	}
	return nil
}

// order is the class order of the reimplementation: numpy's permutation
// with the partition seed (its classifiers' class k is the k-th class of
// this order that they keep).
func (d *ELOC) order(classes int) []int {
	if len(d.Config.Partition) != 0 {
		o := make([]int, classes)
		for c := range o {
			o[c] = c
		}
		return o
	}
	return loaders.NumpyPermutation(classes, uint32(d.Config.PartitionSeed))
}

// partition is each fold's left-out classes, checked against the ID set.
func (d *ELOC) partition(classes int) ([][]int, error) {
	k := d.Config.Folds
	if len(d.Config.Partition) == 0 {
		if classes%k != 0 || classes/k < 1 {
			return nil, fmt.Errorf("eloc: %d classes do not split into %d folds; give a partition", classes, k)
		}
		perm, n := d.order(classes), classes/k
		parts := make([][]int, k)
		for f := range parts {
			parts[f] = perm[f*n : (f+1)*n]
		}
		return parts, nil
	}
	seen := map[int]bool{}
	for f, p := range d.Config.Partition {
		if len(p) == 0 || classes-len(p) < 2 {
			return nil, fmt.Errorf("eloc: partition fold %d leaves out %d of %d classes: want at least one, and two kept", f+1, len(p), classes)
		}
		for _, c := range p {
			if c < 0 || c >= classes || seen[c] {
				return nil, fmt.Errorf("eloc: partition fold %d: class %d is out of range [0, %d) or in two folds", f+1, c, classes)
			}
			seen[c] = true
		}
	}
	return d.Config.Partition, nil
}

// jobKey names fold f's classifier in the model cache by everything of the
// configuration that changes its training (not T, ε or the heads).
func (d *ELOC) jobKey(f int, fold elocFold) string {
	b, err := json.Marshal(struct {
		Out, In                []int
		Margin, Weight         float64
		OutlierBatch, Of, Fold int
	}{fold.out, fold.in, d.Config.Margin, d.Config.Weight, d.Config.OutlierBatch, d.Config.Folds, f})
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(b)
	return fmt.Sprintf("eloc-%dof%d-%s", f+1, d.Config.Folds, hex.EncodeToString(sum[:4]))
}

// elocScore is one classifier's share of ELOC's score: max_c p_c − H(p).
var elocScore = softmaxScore{"eloc", func(p []float64) float64 {
	h := 0.0
	for _, v := range p {
		if v > 0 {
			h -= v * math.Log(v)
		}
	}
	return p[nets.Argmax(p)] - h
}}

// Score implements ood.Detector.
func (d *ELOC) Score(ctx context.Context, env *ood.Env, images *loaders.Dataset) ([]float64, error) {
	if d.folds == nil {
		return nil, fmt.Errorf("eloc: Score before Train")
	}
	total := make([]float64, images.Len())
	for _, f := range d.folds {
		s, err := perturbedScores(ctx, env, f.model, images, d.heads, []float64{d.Config.Temperature}, []float64{d.Config.Epsilon}, elocScore)
		if err != nil {
			return nil, err
		}
		for i, v := range s[0][0] {
			total[i] += v
		}
	}
	return total, nil
}

// Notes implements ood.Reporter.
func (d *ELOC) Notes() []ood.Note {
	parts := make([]string, len(d.folds))
	for f, fold := range d.folds {
		parts[f] = fmt.Sprint(fold.out)
	}
	return []ood.Note{
		{Key: "left_out_classes", Value: strings.Join(parts, " ")},
		{Key: "temperature", Value: strconv.FormatFloat(d.Config.Temperature, 'g', -1, 64)},
		{Key: "epsilon", Value: strconv.FormatFloat(d.Config.Epsilon, 'g', -1, 64)},
		{Key: "heads", Value: d.heads.String()},
		{Key: "ood_images_used", Value: "none (the left-out classes stand in)"},
	}
}
