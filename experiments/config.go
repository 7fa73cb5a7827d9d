// Package experiments reads an experiment matrix from TOML — in-distribution
// sets × networks (with their training recipes) × OOD sets × methods (with
// their parameters) × settings × seeds — and expands it into a Plan of
// cells in a deterministic order with stable keys. Decoding is strict: an
// unknown key or a bad value is an error naming the file, the line and the
// key. Nothing is trained or loaded here.
package experiments

import (
	"encoding/json"
	"fmt"
	"path/filepath"
)

// File is the TOML document. Every number that changes a result is here or
// in a named default that cites its source.
type File struct {
	Name string `toml:"name"` // plan name, used in records and output paths
	Data string `toml:"data"` // data root (the --data flag and $MCDOOD_DATA win)
	Out  string `toml:"out"`  // output folder
	// Models is the cache of pre-trained networks (default OUT/models): a
	// plan that names another plan's cache reuses its networks, as a study
	// of one detector's settings beside the default plan does.
	Models   string   `toml:"models"`
	Seeds    []uint64 `toml:"seeds"`    // one cell per seed: pre-training, fine-tuning, crops and noise
	ID       []string `toml:"id"`       // in-distribution sets: cifar10, cifar100
	Networks []string `toml:"networks"` // network names (nets.ParseSpec); each needs a [network.NAME] recipe
	OOD      []string `toml:"ood"`      // OOD set names (built-in or [[custom_ood]])
	Methods  []string `toml:"methods"`  // method names: registered detectors or [method.NAME] aliases
	Settings []string `toml:"settings"` // transductive (the paper), disjoint, cross

	// Validation is the number of ID test and OOD images held out for
	// validation (ODIN's tuning, MCD's model selection): 1,000 in the paper.
	Validation int `toml:"validation"`
	// SplitSeed seeds the numpy-compatible permutation of the split; the
	// MCD authors use np.random.seed(3).
	SplitSeed uint32 `toml:"split_seed"`
	// CrossPool names the OOD set whose test images form the unlabelled OOD
	// part of the pool in the cross setting (a cell whose OOD set is that one
	// uses the next set of the ood list).
	CrossPool string `toml:"cross_pool"`
	// NoiseImages is the size of the gaussian and uniform sets (ODIN: 10,000).
	NoiseImages int `toml:"noise_images"`
	// TrainImages and TestImages cap the ID training and test sets (0 = all):
	// for quick profiles only; the paper uses all.
	TrainImages int `toml:"train_images"`
	TestImages  int `toml:"test_images"`
	// OODImages caps each OOD set (0 = all).
	OODImages int `toml:"ood_images"`
	// IDValidation says where the ID validation images come from: "split"
	// (the default: the paper's split of the ID test set, the first
	// `validation` images of its seeded permutation) or "after-test-images"
	// (the first `validation` images of the seeded permutation of the test
	// images after the first test_images, which are then all scored). The
	// second scores a published network on the data mirror's 1,000 exact
	// CIFAR-10 test images (test_images = 1000) and validates on others,
	// which carry the mirror's JPEG error; see IDValidationAfterTest.
	IDValidation string `toml:"id_validation"`
	// EvalBatch is the batch size of evaluation passes.
	EvalBatch int `toml:"eval_batch"`
	// Bootstrap is the number of bootstrap resamples for confidence
	// intervals (0: none).
	Bootstrap int `toml:"bootstrap"`

	Network   map[string]Recipe `toml:"network"`
	CustomOOD []CustomOOD       `toml:"custom_ood"`
	// Method tables are decoded into each detector's own configuration.
}

// ModelDir is the folder of the plan's pre-trained network cache when its
// results go to out: the plan's models, else out/models.
func (f *File) ModelDir(out string) string {
	if f.Models != "" {
		return f.Models
	}
	return filepath.Join(out, "models")
}

// ModelPath is the file of a cached pre-trained network when the plan's
// results go to out: KEY.ckpt in ModelDir(out), where key is a ModelKey, or
// a ModelKey+"+"+job for a detector's own training job (ood.TrainJob).
// "mcdood train --plan" writes there and "mcdood reproduce" reads there.
func (p *Plan) ModelPath(out, key string) string {
	return filepath.Join(p.File.ModelDir(out), key+".ckpt")
}

// Recipe is how a network is pre-trained on the ID set (both heads with
// cross-entropy, as the MCD authors' pre-trained models). The keys after
// Dropout are airbench's (Jordan, 2024, github KellerJordan/cifar10-airbench,
// airbench94.py); left out, each changes nothing, and the JSON of a recipe
// (hashed into model keys) leaves them out too, so older plans keep their
// keys.
type Recipe struct {
	Epochs      int       `toml:"epochs"`
	Batch       int       `toml:"batch"`
	LR          float64   `toml:"lr"`       // base (step, cosine, constant) or peak (onecycle) rate
	Schedule    string    `toml:"schedule"` // step, cosine, onecycle, constant
	Milestones  []float64 `toml:"milestones"`
	Gamma       float64   `toml:"gamma"`
	Warmup      float64   `toml:"warmup"` // cosine: warm-up epochs; onecycle: peak epoch
	Momentum    float64   `toml:"momentum"`
	WeightDecay float64   `toml:"weight_decay"`
	Nesterov    bool      `toml:"nesterov"`
	// Augment is the augmentation: false or "none"; true or "crop-flip"
	// (pad 4, random crop, random flip: the DenseNet, WRN and ResNet-9
	// recipes); "flip-translate" (airbench: a shift by up to 2 pixels with
	// reflection, flips in alternate epochs).
	Augment Augment `toml:"augment"`
	Dropout float64 `toml:"dropout"` // WRN only

	// LRStart and LREnd are the onecycle schedule's rate at the first and
	// the last step as fractions of lr (airbench's triangle: 0.2 and 0.07;
	// Page's one-cycle: 0 and 0).
	LRStart float64 `toml:"lr_start" json:",omitempty"`
	LREnd   float64 `toml:"lr_end" json:",omitempty"`
	// LabelSmoothing trains on targets (1 − s)·onehot + s/K (Szegedy et al.,
	// CVPR 2016; airbench 0.2).
	LabelSmoothing float64 `toml:"label_smoothing" json:",omitempty"`
	// BiasLRScale multiplies the batch norms' shifts' learning rate and
	// divides their weight decay by as much (airbench's bias_scaler, 64).
	BiasLRScale float64 `toml:"bias_lr_scale" json:",omitempty"`
	// WhitenBiasEpochs is how many epochs airbench's whitening bias trains
	// before it is frozen (airbench: 3); 0 trains it throughout.
	WhitenBiasEpochs int `toml:"whiten_bias_epochs" json:",omitempty"`
	// EMA is airbench's weight averaging with Lookahead (nets.EMA), as an
	// inline table: ema = {start = 3, every = 5, decay = 0.95, power = 3}.
	EMA *EMARecipe `toml:"ema" json:",omitempty"`
	// TTA is the test-time augmentation of the accuracy the records report
	// beside the plain one: 0 none, 1 mirror, 2 mirror and translate
	// (airbench's levels). Detectors always score the plain image.
	TTA int `toml:"tta" json:",omitempty"`

	// Weights replaces pre-training with a published network: a name that
	// `mcdood data fetch` knows ("odin-densenet10": ODIN's DenseNet-BC-100
	// for CIFAR-10, Liang et al., ICLR 2018) or a path to a PyTorch file
	// (relative paths are under the data root), which then needs
	// WeightsSHA256. A recipe with weights has no training keys.
	Weights string `toml:"weights" json:",omitempty"`
	// WeightsSHA256 pins the file's contents: required for a path, and
	// for a name it must equal the pinned checksum when given.
	WeightsSHA256 string `toml:"weights_sha256" json:",omitempty"`
}

// Published reports whether the recipe loads a published network instead
// of training one.
func (r Recipe) Published() bool { return r.Weights != "" }

// EMARecipe is Recipe.EMA: from epoch start (from 0), every few steps.
type EMARecipe struct {
	Start int     `toml:"start"`
	Every int     `toml:"every"`
	Decay float64 `toml:"decay"`
	Power float64 `toml:"power"`
}

// Augment names a training augmentation (Recipe.Augment). In TOML it is a
// string or, for the two older choices, a boolean.
type Augment string

// The augmentations.
const (
	AugmentNone          Augment = "none"
	AugmentCropFlip      Augment = "crop-flip"
	AugmentFlipTranslate Augment = "flip-translate"
)

// UnmarshalTOML reads true, false or a name.
func (a *Augment) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case bool:
		*a = map[bool]Augment{true: AugmentCropFlip, false: AugmentNone}[v]
		return nil
	case string:
		switch Augment(v) {
		case AugmentNone, AugmentCropFlip, AugmentFlipTranslate:
			*a = Augment(v)
			return nil
		}
		return fmt.Errorf("augment %q: want none, crop-flip or flip-translate (or true, false)", v)
	}
	return fmt.Errorf("augment: want true, false or none, crop-flip, flip-translate; got %T", v)
}

// MarshalJSON writes the two older choices as the booleans they were, so
// that the model keys of older plans do not change.
func (a Augment) MarshalJSON() ([]byte, error) {
	switch a {
	case AugmentNone, "":
		return []byte("false"), nil
	case AugmentCropFlip:
		return []byte("true"), nil
	}
	return json.Marshal(string(a))
}

// CustomOOD declares an extra OOD set: a folder or archive of images.
type CustomOOD struct {
	Name string `toml:"name"`
	Path string `toml:"path"`
	Fit  string `toml:"fit"` // resize or crop
}
