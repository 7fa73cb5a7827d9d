package ood

import (
	"fmt"

	"github.com/mcdood/mcdood/loaders"
)

// Setting says which images form the unlabelled pool of MCD fine-tuning and
// which images are scored. Every method in a cell is scored on the same
// images, so the comparison stays fair whichever setting MCD uses.
type Setting string

const (
	// Transductive is the paper's setting (the authors' train.py): the
	// unlabelled pool is exactly the ID and OOD test images that are then
	// scored.
	Transductive Setting = "transductive"
	// Disjoint holds test images out: each test set is halved by a seeded
	// permutation; the first halves form the unlabelled pool and only the
	// second halves are scored, so no scored image was seen in training.
	Disjoint Setting = "disjoint"
	// Cross takes the unlabelled OOD images from a different OOD set than
	// the one scored: the pool is the ID test images plus the other set.
	Cross Setting = "cross"
)

// ParseSetting reads a setting name.
func ParseSetting(s string) (Setting, error) {
	switch Setting(s) {
	case Transductive, Disjoint, Cross:
		return Setting(s), nil
	}
	return "", fmt.Errorf("setting %q: want transductive, disjoint or cross", s)
}

// Pool makes the unlabelled pool and the images to score for a setting from
// the ID and OOD test splits. other is the OOD set of the Cross setting
// (ignored otherwise); seed drives the Disjoint halving.
func (s Setting) Pool(idTest, oodTest, other *loaders.Dataset, seed uint32) (pool, idScore, oodScore *loaders.Dataset, err error) {
	switch s {
	case Transductive:
		return Concat("unlabelled "+idTest.Name+"+"+oodTest.Name, idTest, oodTest), idTest, oodTest, nil
	case Disjoint:
		idPool, idRest, err := loaders.Split(idTest, idTest.Len()/2, seed)
		if err != nil {
			return nil, nil, nil, err
		}
		oodPool, oodRest, err := loaders.Split(oodTest, oodTest.Len()/2, seed)
		if err != nil {
			return nil, nil, nil, err
		}
		return Concat("unlabelled halves of "+idTest.Name+"+"+oodTest.Name, idPool, oodPool), idRest, oodRest, nil
	case Cross:
		if other == nil {
			return nil, nil, nil, fmt.Errorf("setting cross needs another OOD set for the unlabelled pool")
		}
		return Concat("unlabelled "+idTest.Name+"+"+other.Name, idTest, other), idTest, oodTest, nil
	}
	return nil, nil, nil, fmt.Errorf("unknown setting %q", s)
}

// Concat joins image sets into one unlabelled set.
func Concat(name string, sets ...*loaders.Dataset) *loaders.Dataset {
	n := 0
	for _, d := range sets {
		n += len(d.Pixels)
	}
	out := &loaders.Dataset{Name: name, Pixels: make([]byte, 0, n)}
	for _, d := range sets {
		out.Pixels = append(out.Pixels, d.Pixels...)
	}
	return out
}
