package results

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/mcdood/mcdood/internal/atomicfile"
	"github.com/mcdood/mcdood/metrics"
)

// Baseline is what a regression check compares against: the accuracy and
// the five metrics of every cell of a results directory at one time. Its
// file is indented JSON:
//
//	{
//	  "format": "mcdood-baseline",
//	  "version": 1,
//	  "mode": "exact",
//	  "cells": [
//	    {"key": "...", "id": "cifar10", "network": "...", "ood": "...", "method": "...",
//	     "setting": "transductive", "seed": 1, "accuracy": 0.948,
//	     "metrics": {"fpr95": 0.35, "detection_error": 0.1, "auroc": 0.95, "aupr_in": 0.96, "aupr_out": 0.93}}
//	  ]
//	}
//
// Numbers are fractions, as in records; mode says which of a record's
// metrics (exact, or paper: the MCD authors' test.py) they are. Cells are
// matched to records by key, and keys hash the configuration, so a changed
// configuration shows up as missing cells, never as a silent comparison of
// different things.
type Baseline struct {
	Format  string         `json:"format"`
	Version int            `json:"version"`
	Mode    string         `json:"mode"`
	Cells   []BaselineCell `json:"cells"`
}

// BaselineCell is one cell of a baseline.
type BaselineCell struct {
	Key      string         `json:"key"`
	ID       string         `json:"id"`
	Network  string         `json:"network"`
	OOD      string         `json:"ood"`
	Method   string         `json:"method"`
	Setting  string         `json:"setting"`
	Seed     uint64         `json:"seed"`
	Accuracy float64        `json:"accuracy"`
	Metrics  metrics.Report `json:"metrics"`
}

// The baseline file's format name and version.
const (
	baselineFormat  = "mcdood-baseline"
	baselineVersion = 1
)

// NewBaseline makes a baseline of records with their metrics in mode.
func NewBaseline(records []*Record, mode metrics.Mode) (*Baseline, error) {
	b := &Baseline{Format: baselineFormat, Version: baselineVersion, Mode: mode.String()}
	seen := map[string]bool{}
	for _, r := range records {
		rep, err := r.Report(mode)
		if err != nil {
			return nil, err
		}
		if seen[r.Key] {
			return nil, fmt.Errorf("results: two records with key %q", r.Key)
		}
		seen[r.Key] = true
		b.Cells = append(b.Cells, BaselineCell{Key: r.Key, ID: r.ID, Network: r.Network, OOD: r.OOD, Method: r.Method,
			Setting: r.Setting, Seed: r.Seed, Accuracy: r.Accuracy, Metrics: rep})
	}
	if len(b.Cells) == 0 {
		return nil, errors.New("results: no records for a baseline")
	}
	slices.SortFunc(b.Cells, func(x, y BaselineCell) int { return strings.Compare(x.Key, y.Key) })
	return b, nil
}

// WriteBaseline writes b to path atomically.
func WriteBaseline(path string, b *Baseline) error {
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return fmt.Errorf("results: baseline %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(data, '\n'), 0o644)
}

// ReadBaseline reads a baseline file strictly: unknown fields, another
// format or version, duplicate keys and numbers outside [0, 1] are errors
// naming the file.
func ReadBaseline(path string) (*Baseline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, err := decodeBaseline(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

func decodeBaseline(data []byte) (*Baseline, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	b := new(Baseline)
	if err := dec.Decode(b); err != nil {
		return nil, fmt.Errorf("not a baseline file (want the JSON object of mcdood compare --write-baseline): %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not a baseline file: data after the JSON object")
	}
	if b.Format != baselineFormat || b.Version != baselineVersion {
		return nil, fmt.Errorf("format %q version %d, want %q version %d", b.Format, b.Version, baselineFormat, baselineVersion)
	}
	if _, err := metrics.ParseMode(b.Mode); err != nil {
		return nil, err
	}
	if len(b.Cells) == 0 {
		return nil, errors.New("no cells")
	}
	seen := map[string]bool{}
	for k, c := range b.Cells {
		if c.Key == "" {
			return nil, fmt.Errorf("cell %d (0-based) has no key", k)
		}
		if seen[c.Key] {
			return nil, fmt.Errorf("key %q listed twice", c.Key)
		}
		seen[c.Key] = true
		for _, m := range AllMetrics {
			if v := c.value(m); !(v >= 0 && v <= 1) {
				return nil, fmt.Errorf("cell %s: %s = %v, want a fraction in [0, 1]", c.Key, m, v)
			}
		}
	}
	return b, nil
}

func (c BaselineCell) value(m Metric) float64 {
	if m == Accuracy {
		return c.Accuracy
	}
	return m.fromReport(c.Metrics)
}

// describe names the cell for a reader.
func (c BaselineCell) describe() string {
	return fmt.Sprintf("%s/%s/%s/%s/%s/seed %d", c.ID, c.Network, c.OOD, c.Method, c.Setting, c.Seed)
}

// Tolerances are how much worse than the baseline a number may get, in
// absolute fraction units (0.02 = two percentage points).
type Tolerances struct {
	Default   float64
	PerMetric map[Metric]float64 // overrides Default
}

// DefaultTolerance is the tolerance of "mcdood compare" unless told
// otherwise: two percentage points, about the seed-to-seed spread the
// papers' numbers show.
const DefaultTolerance = 0.02

// For is the tolerance of metric m.
func (t Tolerances) For(m Metric) float64 {
	if v, ok := t.PerMetric[m]; ok {
		return v
	}
	return t.Default
}

// ParseTolerances reads per-metric tolerances "auroc=0.01,fpr95=0.05" (an
// empty list is none) on top of a default.
func ParseTolerances(def float64, list string) (Tolerances, error) {
	t := Tolerances{Default: def, PerMetric: map[Metric]float64{}}
	if !(def >= 0 && def <= 1) {
		return t, fmt.Errorf("tolerance %v outside [0, 1]", def)
	}
	if strings.TrimSpace(list) == "" {
		return t, nil
	}
	for _, item := range strings.Split(list, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return t, fmt.Errorf("metric tolerance %q: want METRIC=VALUE", item)
		}
		m, err := ParseMetric(strings.TrimSpace(name))
		if err != nil {
			return t, err
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || !(v >= 0 && v <= 1) {
			return t, fmt.Errorf("metric tolerance %q: want a fraction in [0, 1]", item)
		}
		if _, dup := t.PerMetric[m]; dup {
			return t, fmt.Errorf("metric tolerance for %s given twice", m)
		}
		t.PerMetric[m] = v
	}
	return t, nil
}

// Change is one number that moved beyond its tolerance.
type Change struct {
	Key       string
	Cell      string // ID set/network/OOD set/method/setting/seed
	Metric    Metric
	Baseline  float64
	Result    float64
	Worse     float64 // how much worse than the baseline (negative: better)
	Tolerance float64
}

// Comparison is the outcome of Compare.
type Comparison struct {
	Mode         metrics.Mode
	Compared     int      // baseline cells found in the results
	Regressions  []Change // worse than the baseline by more than the tolerance
	Improvements []Change // better by more than the tolerance
	Missing      []string // baseline keys with no record: an error
	New          []string // record keys not in the baseline: fine
}

// OK reports whether the results pass: no regression, nothing missing.
func (c *Comparison) OK() bool { return len(c.Regressions) == 0 && len(c.Missing) == 0 }

// Err is nil when the results pass, else an error counting what failed.
func (c *Comparison) Err() error {
	if c.OK() {
		return nil
	}
	var parts []string
	if n := len(c.Regressions); n > 0 {
		parts = append(parts, plural(n, "regression", "regressions")+" beyond tolerance")
	}
	if n := len(c.Missing); n > 0 {
		parts = append(parts, plural(n, "baseline cell", "baseline cells")+" missing from the results")
	}
	return errors.New(strings.Join(parts, " and "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// regressionSlack absorbs floating-point noise, so that a change of exactly
// the tolerance passes.
const regressionSlack = 1e-12

// Compare checks every cell of the baseline against the record of the same
// key. A metric or the accuracy worse than the baseline by more than its
// tolerance is a regression: for FPR95 and the detection error higher is
// worse, for AUROC, AUPR-In, AUPR-Out and accuracy lower is worse. Better by
// more than the tolerance is an improvement, reported but passing. A
// baseline cell without a record is missing (a failure); records not in
// the baseline are listed as new.
func Compare(b *Baseline, records []*Record, tol Tolerances) (*Comparison, error) {
	mode, err := metrics.ParseMode(b.Mode)
	if err != nil {
		return nil, fmt.Errorf("results: baseline: %w", err)
	}
	c := &Comparison{Mode: mode}
	byKey := map[string]*Record{}
	for _, r := range records {
		byKey[r.Key] = r
	}
	inBaseline := map[string]bool{}
	for _, cell := range b.Cells {
		inBaseline[cell.Key] = true
		r, ok := byKey[cell.Key]
		if !ok {
			c.Missing = append(c.Missing, cell.Key)
			continue
		}
		c.Compared++
		for _, m := range AllMetrics {
			got, err := r.Value(m, mode)
			if err != nil {
				return nil, fmt.Errorf("results: compare: %w", err)
			}
			want := cell.value(m)
			worse := got - want
			if !m.LowerIsBetter() {
				worse = -worse
			}
			ch := Change{Key: cell.Key, Cell: cell.describe(), Metric: m, Baseline: want, Result: got, Worse: worse, Tolerance: tol.For(m)}
			switch {
			case math.IsNaN(got) || worse > ch.Tolerance+regressionSlack:
				c.Regressions = append(c.Regressions, ch)
			case -worse > ch.Tolerance+regressionSlack:
				c.Improvements = append(c.Improvements, ch)
			}
		}
	}
	for _, r := range records {
		if !inBaseline[r.Key] {
			c.New = append(c.New, r.Key)
		}
	}
	slices.Sort(c.New)
	for _, list := range [][]Change{c.Regressions, c.Improvements} {
		slices.SortStableFunc(list, func(x, y Change) int { return cmp.Compare(x.Key, y.Key) })
	}
	return c, nil
}

// WriteText writes the comparison for a reader: a summary line, then one
// line per regression, improvement, missing and new cell.
func (c *Comparison) WriteText(w io.Writer) error {
	var b strings.Builder
	verdict := "PASS"
	if !c.OK() {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "%s: %d cells compared (%s metrics, fractions): %s, %s, %d missing, %d new\n",
		verdict, c.Compared, c.Mode, plural(len(c.Regressions), "regression", "regressions"),
		plural(len(c.Improvements), "improvement", "improvements"), len(c.Missing), len(c.New))
	for _, ch := range c.Regressions {
		fmt.Fprintf(&b, "regression   %s %s: %.4f → %.4f, worse by %.4f (tolerance %.4f)  [%s]\n",
			ch.Cell, ch.Metric, ch.Baseline, ch.Result, ch.Worse, ch.Tolerance, ch.Key)
	}
	for _, ch := range c.Improvements {
		fmt.Fprintf(&b, "improvement  %s %s: %.4f → %.4f, better by %.4f (tolerance %.4f)  [%s]\n",
			ch.Cell, ch.Metric, ch.Baseline, ch.Result, -ch.Worse, ch.Tolerance, ch.Key)
	}
	for _, k := range c.Missing {
		fmt.Fprintf(&b, "missing      %s: in the baseline, no record in the results\n", k)
	}
	for _, k := range c.New {
		fmt.Fprintf(&b, "new          %s: not in the baseline\n", k)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
