// Package experiments reads an experiment matrix from TOML — in-distribution
// sets × networks (with their training recipes) × OOD sets × methods (with
// their parameters) × settings × seeds — and expands it into a Plan of
// cells in a deterministic order with stable keys. Decoding is strict: an
// unknown key or a bad value is an error naming the file, the line and the
// key. Nothing is trained or loaded here.
package experiments

// File is the TOML document. Every number that changes a result is here or
// in a named default that cites its source.
type File struct {
	Name     string   `toml:"name"`     // plan name, used in records and output paths
	Data     string   `toml:"data"`     // data root (the --data flag and $MCDOOD_DATA win)
	Out      string   `toml:"out"`      // output folder
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
	// EvalBatch is the batch size of evaluation passes.
	EvalBatch int `toml:"eval_batch"`
	// Bootstrap is the number of bootstrap resamples for confidence
	// intervals (0: none).
	Bootstrap int `toml:"bootstrap"`

	Network   map[string]Recipe `toml:"network"`
	CustomOOD []CustomOOD       `toml:"custom_ood"`
	// Method tables are decoded into each detector's own configuration.
}

// Recipe is how a network is pre-trained on the ID set (both heads with
// cross-entropy, as the MCD authors' pre-trained models).
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
	Augment     bool      `toml:"augment"`
	Dropout     float64   `toml:"dropout"` // WRN only
}

// CustomOOD declares an extra OOD set: a folder or archive of images.
type CustomOOD struct {
	Name string `toml:"name"`
	Path string `toml:"path"`
	Fit  string `toml:"fit"` // resize or crop
}
