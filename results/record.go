package results

import (
	"time"

	"github.com/mcdood/mcdood/metrics"
)

// Record is the outcome of one cell: one detector on one (ID set, network,
// OOD set, setting, seed). Metrics are fractions in [0, 1]; tables print
// percentages.
type Record struct {
	Version int    `json:"version"` // RecordVersion
	Key     string `json:"key"`     // the cell's stable key (also the file name)
	// Group is the key without the seed, shared by the cells that differ
	// only in their seed (experiments.Cell.Group); empty in records written
	// before it existed.
	Group string `json:"group,omitempty"`
	Plan  string `json:"plan"` // the plan (profile) name

	ID       string `json:"id"`       // in-distribution set, e.g. cifar10
	Network  string `json:"network"`  // e.g. densenet-bc-100
	OOD      string `json:"ood"`      // e.g. tinyimagenet-crop
	Method   string `json:"method"`   // the method's name in the plan (may alias a detector)
	Detector string `json:"detector"` // registered detector name
	Setting  string `json:"setting"`  // transductive, disjoint, cross
	Seed     uint64 `json:"seed"`

	// Config is the resolved configuration of everything that changed the
	// result: network recipe, detector parameters, split, data sources.
	Config map[string]string `json:"config"`

	Accuracy float64 `json:"accuracy"` // ID test accuracy of the pre-trained network (head 1)
	// TTAAccuracy is the same with the recipe's test-time augmentation
	// (Recipe.TTA), which the detectors do not use; 0 without.
	TTAAccuracy float64         `json:"tta_accuracy,omitempty"`
	Metrics     metrics.Report  `json:"metrics"`                 // exact mode
	Paper       *metrics.Report `json:"paper_metrics,omitempty"` // the MCD authors' test.py computation
	// FPR95OODPositive is FPR@95 with OOD as the positive class, as OpenOOD
	// reads it (metrics.FPR95OODPositive); ReadRecords computes it from the
	// scores for records written before it existed.
	FPR95OODPositive *float64           `json:"fpr95_ood_positive,omitempty"`
	CI               *metrics.Intervals `json:"ci,omitempty"` // bootstrap intervals, when asked for
	Counts           Counts             `json:"counts"`
	Notes            []Note             `json:"notes,omitempty"`    // what the detector chose or learned
	Warnings         []string           `json:"warnings,omitempty"` // anything a reader of the number should know

	Commit  string             `json:"commit"`
	Machine string             `json:"machine"`
	BLAS    string             `json:"blas"`
	Kernels string             `json:"kernels,omitempty"` // the native kernels' level (nets.Kernels)
	Conv    string             `json:"conv,omitempty"`    // how convolutions ran (nets.Conv)
	Threads int                `json:"threads,omitempty"` // the kernels' worker threads (nets.Threads)
	Started time.Time          `json:"started"`
	Seconds map[string]float64 `json:"seconds"` // by stage: prepare, score_id, score_ood, ...

	// Digest binds the record to its scores file: "sha256:" and the
	// SHA-256 of the scores file's bytes followed by the record's compact
	// JSON without this field (RecordDigest). Store.Put sets it; reading
	// (ReadRecords) refuses a record it does not match. Version 1 records
	// have none.
	Digest string `json:"digest,omitempty"`
}

// RecordVersion is the version of the record format written by this code.
// Version 2 added Digest. Version 1 records are still read: ReadRecords
// checks them by recomputing their metrics from their scores file.
const RecordVersion = 2

// oldestRecordVersion is the oldest record version this code reads.
const oldestRecordVersion = 1

// Counts are the image counts behind a record.
type Counts struct {
	IDTest     int `json:"id_test"`
	OODTest    int `json:"ood_test"`
	IDVal      int `json:"id_val"`
	OODVal     int `json:"ood_val"`
	Unlabelled int `json:"unlabelled,omitempty"`
}

// Note is a fact a detector reported (ODIN's chosen T, MCD's best epoch).
type Note struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}
