// Package setting names the settings of MCD fine-tuning (Yu & Aizawa, ICCV
// 2019): which images form the unlabelled pool and which are scored. It is
// a leaf (it imports only loaders) so that results can print the settings
// without importing the detectors and the networks; package ood re-exports
// it as ood.Setting.
package setting

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

// All are the settings, the paper's first: the order of results' tables.
var All = []Setting{Transductive, Disjoint, Cross}

// Parse reads a setting name.
func Parse(s string) (Setting, error) {
	switch Setting(s) {
	case Transductive, Disjoint, Cross:
		return Setting(s), nil
	}
	return "", fmt.Errorf("setting %q: want transductive, disjoint or cross", s)
}

// Describe says in a phrase what the setting means, for the tables'
// captions; an unknown setting is its name.
func (s Setting) Describe() string {
	switch s {
	case Transductive:
		return "transductive: the unlabelled pool is the test set, as in the paper"
	case Disjoint:
		return "disjoint: the unlabelled pool is one half of each test set, only the other half is scored"
	case Cross:
		return "cross: the unlabelled OOD images come from another OOD set than the one scored"
	}
	return string(s)
}

// Pool makes MCD's unlabelled pool (the images its fine-tuning separates,
// Yu & Aizawa, ICCV 2019) and the images to score for the setting
// from the ID and OOD test splits. other is the OOD set of the Cross
// setting (ignored otherwise); seed drives the Disjoint halving.
func (s Setting) Pool(idTest, oodTest, other *loaders.Dataset, seed uint32) (pool, idScore, oodScore *loaders.Dataset, err error) {
	switch s {
	case Transductive:
		return loaders.Concat("unlabelled "+idTest.Name+"+"+oodTest.Name, idTest, oodTest), idTest, oodTest, nil
	case Disjoint:
		idPool, idRest, err := loaders.Split(idTest, idTest.Len()/2, seed)
		if err != nil {
			return nil, nil, nil, err
		}
		oodPool, oodRest, err := loaders.Split(oodTest, oodTest.Len()/2, seed)
		if err != nil {
			return nil, nil, nil, err
		}
		return loaders.Concat("unlabelled halves of "+idTest.Name+"+"+oodTest.Name, idPool, oodPool), idRest, oodRest, nil
	case Cross:
		if other == nil {
			return nil, nil, nil, fmt.Errorf("setting cross needs another OOD set for the unlabelled pool")
		}
		return loaders.Concat("unlabelled "+idTest.Name+"+"+other.Name, idTest, other), idTest, oodTest, nil
	}
	return nil, nil, nil, fmt.Errorf("unknown setting %q", s)
}
