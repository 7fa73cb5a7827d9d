package experiments

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"
	"github.com/mcdood/mcdood/ood"
)

// Plan is a validated experiment matrix, expanded into cells.
type Plan struct {
	Name     string
	Source   string // the TOML file it came from
	File     File   // with defaults filled in
	Networks []Network
	Methods  []Method
	Custom   []loaders.Custom
	Cells    []Cell
	// crossPools maps each OOD set to the set whose images form its cells'
	// pool in the cross setting, resolved once from the full ood list so
	// that narrowing the plan (OnlyOOD) cannot change it.
	crossPools map[string]string
}

// CrossPool is the OOD set whose test images form the unlabelled OOD part of
// the pool for cells of OOD set name in the cross setting: the plan's
// cross_pool, or, for the cross_pool's own cells, the set after it in the
// plan's full ood list. Never name itself ("" for a plan without cross).
func (p *Plan) CrossPool(name string) string { return p.crossPools[name] }

// Network is a network of the plan with its training recipe.
type Network struct {
	Name   string
	Spec   nets.Spec
	Recipe Recipe
}

// Method is a method of the plan: a registered detector and its
// configuration (a pointer made by the detector's Registration.NewConfig).
type Method struct {
	Name     string
	Detector string
	Config   any
	// OOD, when not empty, is the only OOD sets the method runs on (the
	// method table's ood key); the others get no cell of it.
	OOD []string
}

// Build makes the method's detector.
func (m Method) Build() (ood.Detector, error) {
	r, err := ood.Lookup(m.Detector)
	if err != nil {
		return nil, err
	}
	return r.Build(m.Config)
}

// Canonical is the method's configuration as JSON (for keys and records).
func (m Method) Canonical() string {
	b, _ := json.Marshal(struct {
		Detector string `json:"detector"`
		Config   any    `json:"config"`
	}{m.Detector, m.Config})
	return string(b)
}

// Cell is one unit of work: one method on one (ID set, network, OOD set,
// setting, seed).
type Cell struct {
	ID, Network, OOD, Method, Setting string
	Seed                              uint64
	// Key identifies the cell and everything that changes its result (a hash
	// of the recipe, the method's parameters and the data choices), so that
	// results of a changed configuration are never mistaken for current ones.
	Key string
	// Group is Key without the seed: the cells of one configuration run with
	// different seeds share it, which is what seed spreads and regression
	// baselines gather over.
	Group string
}

// Network returns the plan's network of that name.
func (p *Plan) Network(name string) Network {
	for _, n := range p.Networks {
		if n.Name == name {
			return n
		}
	}
	panic("experiments: no network " + name)
}

// Method returns the plan's method of that name.
func (p *Plan) Method(name string) Method {
	for _, m := range p.Methods {
		if m.Name == name {
			return m
		}
	}
	panic("experiments: no method " + name)
}

// TrainConfig turns a recipe into the training configuration for a seed.
func (n Network) TrainConfig(seed uint64) (nets.TrainConfig, error) {
	r := n.Recipe
	var sched nets.Schedule
	switch r.Schedule {
	case "step":
		sched = nets.StepDecay{Base: r.LR, Gamma: r.Gamma, Milestones: r.Milestones}
	case "cosine":
		sched = nets.Cosine{Base: r.LR, Epochs: float64(r.Epochs), Warmup: r.Warmup}
	case "onecycle":
		sched = nets.OneCycle{Peak: r.LR, PeakAt: r.Warmup, Epochs: float64(r.Epochs), Start: r.LRStart, End: r.LREnd}
	case "constant":
		sched = nets.Constant(r.LR)
	default:
		return nets.TrainConfig{}, fmt.Errorf("network %s: unknown schedule %q", n.Name, r.Schedule)
	}
	cfg := nets.TrainConfig{Epochs: r.Epochs, Batch: r.Batch, Momentum: r.Momentum, WeightDecay: r.WeightDecay,
		Nesterov: r.Nesterov, Schedule: sched, Seed: seed, LabelSmoothing: r.LabelSmoothing,
		NormShiftLRScale: r.BiasLRScale, EarlyOnlyEpochs: r.WhitenBiasEpochs}
	if r.WhitenBiasEpochs == 0 {
		cfg.EarlyOnlyEpochs = r.Epochs
	}
	if e := r.EMA; e != nil {
		cfg.EMA = &nets.EMA{Start: e.Start, Every: e.Every, Decay: e.Decay, Power: e.Power}
	}
	return cfg, nil
}

// TrainingSet binds the recipe's normalisation and augmentation to a
// training set for nets.Train; seed draws the first orientation of the
// alternating flips.
func (n Network) TrainingSet(d *loaders.Dataset, seed uint64) loaders.Batches {
	b := loaders.Batches{Set: d, Norm: n.Normalization(), Seed: seed}
	switch n.Recipe.Augment {
	case AugmentCropFlip:
		b.Aug = &loaders.StandardAugmentation
	case AugmentFlipTranslate:
		b.Aug = &loaders.AirbenchAugmentation
	}
	return b
}

// ModelKey identifies a pre-trained network: everything that changes it.
func (p *Plan) ModelKey(id, network string, seed uint64) string {
	return p.modelKey(id, network, fmt.Sprintf("s%d", seed))
}

// modelKey is ModelKey with the seed written as given ("s*" for any seed).
func (p *Plan) modelKey(id, network, seed string) string {
	n := p.Network(network)
	if n.Recipe.Published() {
		// A published network is the same for every seed and trained on
		// its authors' data: its key is the file's contents, and the
		// labelled images the detectors are given (MCD fine-tunes on them,
		// Mahalanobis takes its class means from them).
		return fmt.Sprintf("%s_%s_published_%s_t%d", network, id, n.Recipe.WeightsSHA256[:12], p.File.TrainImages)
	}
	return fmt.Sprintf("%s_%s_%s_%s", network, id, seed, shortHash(struct {
		Spec        nets.Spec
		Recipe      Recipe
		TrainImages int
	}{n.Spec, n.Recipe, p.File.TrainImages}))
}

func shortHash(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:4])
}

// cellKeys names a cell, and its seed group, and hashes what changes its
// result.
func (p *Plan) cellKeys(c Cell) (key, group string) {
	m := p.Method(c.Method)
	var custom *loaders.Custom
	for i := range p.Custom {
		if p.Custom[i].Name == c.OOD {
			custom = &p.Custom[i]
		}
	}
	f := p.File
	// A built-in derived set whose pixels changed since its name was
	// introduced (tinyimagenet-resize, tinyimagenet-crop: now built as ODIN
	// built them) hashes its construction, so records of the old derivation
	// are not reused. omitempty keeps the keys of every other set as they
	// were. The cross pool's images shape the cell too, so its construction
	// counts as well.
	construction, poolConstruction := loaders.Construction(c.OOD), ""
	pool := map[bool]string{true: p.CrossPool(c.OOD)}[c.Setting == string(ood.Cross)]
	if pool != "" {
		poolConstruction = loaders.Construction(pool)
	}
	hash := func(model string) string {
		return shortHash(struct {
			Model                  string
			Method                 string
			Validation             int
			SplitSeed              uint32
			Noise, Test, OODImages int
			Custom                 *loaders.Custom
			CrossPool              string
			Construction           string `json:",omitempty"`
			PoolConstruction       string `json:",omitempty"`
			IDValidation           string `json:",omitempty"` // left out for the paper's split
		}{model, m.Canonical(), f.Validation, f.SplitSeed, f.NoiseImages, f.TestImages, f.OODImages, custom,
			pool, construction, poolConstruction, map[bool]string{true: f.IDValidation}[f.IDValidation != IDValidationSplit]})
	}
	name := fmt.Sprintf("%s_%s_%s_%s_%s", c.ID, c.Network, c.OOD, c.Method, c.Setting)
	// The group hashes the model key with the seed left out, so it is the
	// same for every seed.
	return fmt.Sprintf("%s_s%d_%s", name, c.Seed, hash(p.ModelKey(c.ID, c.Network, c.Seed))), name + "_" + hash(p.modelKey(c.ID, c.Network, "s*"))
}
