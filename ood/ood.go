// Package ood is the contract between out-of-distribution detectors and the
// code that runs them: the Detector interface, a registry filled from init
// functions (in the manner of database/sql drivers and image.RegisterFormat),
// and the optional abilities a detector may have.
//
// Every detector returns scores where higher means "more in-distribution";
// methods defined by a distance (MCD's discrepancy, Mahalanobis) return it
// negated. Adding a detector is one file: implement Detector, call Register
// from init, and import the package for its side effect.
package ood

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"sync"

	"github.com/mcdood/mcdood/internal/progress"
	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/nets"
)

// Detector scores images: one finite score per image, higher meaning more
// in-distribution, deterministic for a given Env.Seed.
type Detector interface {
	Score(ctx context.Context, env *Env, images *loaders.Dataset) ([]float64, error)
}

// Env is what a detector works with.
type Env struct {
	// Model is the pre-trained two-head network. Detectors must not change it
	// (it is shared between detectors); one that trains works on a Clone.
	Model    *nets.Model
	Norm     loaders.Normalization
	Batch    int    // images per forward pass
	Seed     uint64 // the cell's seed, for anything random
	Progress *progress.Reporter
	Log      *slog.Logger
	// Memo, when not nil, keeps what detectors computed for this model and
	// its data sets across the cells that share them (ODIN's scores of the
	// ID validation images, tuned again for every OOD set); the runner
	// makes one per pre-trained network and drops it with the network.
	Memo *Memo
	// Checkpoint, when not empty, is the file in which a detector that
	// trains for long keeps its state as it goes (MCD's fine-tuning, at the
	// end of each epoch), to resume from after a kill with the result an
	// uninterrupted run gets. The runner sets it per cell,
	// OUT/checkpoints/<cell key>.ckpt, and removes the file once the cell's
	// record is written; "" checkpoints nothing.
	Checkpoint string
	// CheckpointEvery, when positive, also checkpoints every that many
	// steps, for detectors whose epochs are long and whose configuration
	// sets no interval of its own (reproduce --checkpoint-every). It never
	// changes a result.
	CheckpointEvery int
}

// Memo is a cache of values keyed by what they were computed from, safe for
// concurrent use. Keys must be comparable; a detector puts its own key type
// in, so that detectors never see each other's entries.
type Memo struct {
	mu sync.Mutex
	m  map[any]any
}

// Get returns the value stored under key (nil, false on a nil Memo).
func (c *Memo) Get(key any) (any, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

// Put stores value under key (nothing on a nil Memo).
func (c *Memo) Put(key, value any) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[any]any{}
	}
	c.m[key] = value
}

// Logger returns env.Log or a logger that discards.
func (env *Env) Logger() *slog.Logger {
	if env.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return env.Log
}

// Data is what a detector may learn from before scoring.
type Data struct {
	Train  *loaders.Dataset // labelled in-distribution training set
	IDVal  *loaders.Dataset // in-distribution validation images (the paper's 1,000)
	OODVal *loaders.Dataset // OOD validation images (1,000), labelled as OOD
	// Unlabelled is the unlabelled pool MCD fine-tunes on (ID and OOD
	// mixed); which images it holds depends on the Setting.
	Unlabelled *loaders.Dataset
	Setting    Setting
}

// Preparer is a detector that must learn something before it scores: fit
// statistics (Mahalanobis), tune hyper-parameters on validation data (ODIN),
// or fine-tune the network (MCD). The runner calls Prepare once per cell.
type Preparer interface {
	Prepare(ctx context.Context, env *Env, data *Data) error
}

// Trainer is a detector that trains networks of its own (an ensemble of
// leave-out classifiers, say) rather than only reading the pre-trained one.
// The runner calls Train before Prepare, with a Pretrainer that trains as
// the plan pre-trains its network: the same architecture and recipe,
// checkpointed every epoch in the plan's model cache, resumed after a kill
// and reused by every cell that asks for the same job.
type Trainer interface {
	Train(ctx context.Context, env *Env, data *Data, pre Pretrainer) error
}

// Pretrainer trains (or loads from the cache) the network a job describes.
type Pretrainer interface {
	Pretrain(ctx context.Context, job TrainJob) (*nets.Model, error)
}

// TrainJob is a network a Trainer needs: the plan's architecture and recipe
// on the detector's own labelled images, optionally with the entropy-margin
// term of Vyas et al. (ECCV 2018) on held-out images.
type TrainJob struct {
	// Key names the job in the model cache beside the pre-trained network
	// (letters, digits, '-', '_' and '.'): two jobs with one key must be the
	// same job, so it holds a hash of what the detector puts into it. The
	// weights' seed derives from the cell's seed and the key.
	Key string
	// Train are the labelled images; their Classes may differ from the ID
	// set's. Augmented as the recipe augments the ID set.
	Train *loaders.Dataset
	// Outliers, when not nil, are the held-out images of the entropy-margin
	// term: each step also takes OutlierBatch of them (0: the recipe's
	// batch times their number over Train's), and adds
	// Weight·max(0, Margin + H̄(in) − H̄(out)) per head.
	Outliers       *loaders.Dataset
	OutlierBatch   int
	Margin, Weight float64
}

// Reporter is a detector that reports what it chose or learned (ODIN's T and
// ε, MCD's best epoch), as key/value notes stored with the result.
type Reporter interface {
	Notes() []Note
}

// Warner is a detector with something a reader of its numbers should know
// that depends on how it was prepared (MCD fine-tuned on the very images it
// then scores, in the transductive setting); the runner stores the warnings
// with the record.
type Warner interface {
	Warnings() []string
}

// Note is one reported fact.
type Note struct {
	Key, Value string
}

// Registration describes a registered detector. Use Register to make one.
type Registration struct {
	Name string // lower-case kebab, as in TOML ("msp", "odin", "mcd")
	Doc  string // one line, citing the method's paper
	// NewConfig returns a pointer to the detector's configuration struct,
	// filled with its defaults; configuration decoders fill it further.
	NewConfig func() any
	// Build makes a detector from a configuration made by NewConfig.
	Build func(cfg any) (Detector, error)
}

var (
	mu       sync.RWMutex
	registry = map[string]Registration{}
)

// Register adds a detector whose configuration is C (a struct with toml
// tags; defaults gives its default values). It panics on a duplicate name:
// that is a programming error.
func Register[C any](name, doc string, defaults C, build func(C) (Detector, error)) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[name]; dup {
		panic("ood: detector registered twice: " + name)
	}
	registry[name] = Registration{
		Name: name,
		Doc:  doc,
		NewConfig: func() any {
			// A deep copy: a decoder writes into slices it finds, so two
			// methods of one detector (odin and an odin-paper alias) must
			// not share the defaults' backing arrays, or decoding the
			// second overwrites the first (and the defaults).
			c := defaults
			deepCopy(reflect.ValueOf(&c).Elem())
			return &c
		},
		Build: func(cfg any) (Detector, error) {
			c, ok := cfg.(*C)
			if !ok {
				return nil, fmt.Errorf("ood: detector %s wants configuration %T, got %T", name, (*C)(nil), cfg)
			}
			return build(*c)
		},
	}
}

// deepCopy replaces, in place, every slice, map and pointer reachable from
// v by a copy, so that v shares no memory with the value it was copied from.
func deepCopy(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				deepCopy(f)
			}
		}
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		for i := range c.Len() {
			deepCopy(c.Index(i))
		}
		v.Set(c)
	case reflect.Array:
		for i := range v.Len() {
			deepCopy(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		c := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			e := reflect.New(it.Value().Type()).Elem()
			e.Set(it.Value())
			deepCopy(e)
			c.SetMapIndex(it.Key(), e)
		}
		v.Set(c)
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		c := reflect.New(v.Elem().Type())
		c.Elem().Set(v.Elem())
		deepCopy(c.Elem())
		v.Set(c)
	}
}

// Lookup finds a registered detector.
func Lookup(name string) (Registration, error) {
	mu.RLock()
	defer mu.RUnlock()
	r, ok := registry[name]
	if !ok {
		return Registration{}, fmt.Errorf("unknown detector %q (is its package imported?); registered: %v", name, namesLocked())
	}
	return r, nil
}

// Names lists the registered detectors, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
