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
	"strings"

	"github.com/mcdood/mcdood/internal/atomicfile"
	"github.com/mcdood/mcdood/metrics"
)

// Baseline is what a regression check compares against: for every cell
// configuration (a seed group: the cells that differ only in their seed),
// the accuracy and the five metrics of several runs of it — draws over
// seeds, and over kernel paths, BLAS builds or machines — with their mean
// and standard deviation. A number is a distribution, and the check asks
// whether a new result lies inside it. Its file is indented JSON:
//
//	{
//	  "format": "mcdood-baseline",
//	  "version": 2,
//	  "mode": "exact",
//	  "groups": [
//	    {"group": "...", "id": "cifar10", "network": "...", "ood": "...", "method": "...", "setting": "transductive",
//	     "n": 8,
//	     "mean": {"accuracy": 0.72, "fpr95": 0.35, "detection_error": 0.1, "auroc": 0.95, "aupr_in": 0.96, "aupr_out": 0.93},
//	     "std":  {"accuracy": 0.004, ...},
//	     "draws": [{"key": "...", "seed": 1, "kernels": "avx512", "blas": "...", "machine": "...",
//	                "values": {"accuracy": 0.721, ...}}, ...]}
//	  ]
//	}
//
// Numbers are fractions, as in records; mode says which of a record's
// metrics (exact, or paper: the MCD authors' test.py) they are. std is the
// sample standard deviation (n − 1 in the denominator; 0 for one draw). The
// mean and std are stored for readers and checked against the draws when
// the file is read. Groups are matched to records by Record.Group, which
// hashes the configuration, so a changed configuration shows up as missing
// groups, never as a silent comparison of different things.
type Baseline struct {
	Format  string          `json:"format"`
	Version int             `json:"version"`
	Mode    string          `json:"mode"`
	Groups  []BaselineGroup `json:"groups"`
}

// BaselineGroup is the distribution of one cell configuration's numbers.
type BaselineGroup struct {
	Group   string `json:"group"`
	ID      string `json:"id"`
	Network string `json:"network"`
	OOD     string `json:"ood"`
	Method  string `json:"method"`
	Setting string `json:"setting"`
	N       int    `json:"n"`
	Mean    Values `json:"mean"`
	Std     Values `json:"std"`
	Draws   []Draw `json:"draws"`
}

// Draw is one run of a group: where it came from and its numbers.
type Draw struct {
	Key     string `json:"key"`
	Seed    uint64 `json:"seed"`
	Kernels string `json:"kernels,omitempty"`
	BLAS    string `json:"blas,omitempty"`
	Machine string `json:"machine,omitempty"`
	Values  Values `json:"values"`
}

// Values are the numbers a baseline holds per run: the accuracy and the
// five detection metrics, as fractions.
type Values struct {
	Accuracy float64 `json:"accuracy"`
	metrics.Report
}

// Get returns one number.
func (v Values) Get(m metrics.Metric) float64 {
	if m == metrics.Accuracy {
		return v.Accuracy
	}
	x, _ := v.Report.Get(m)
	return x
}

func (v *Values) set(m metrics.Metric, x float64) {
	switch m {
	case metrics.Accuracy:
		v.Accuracy = x
	case metrics.FPR95:
		v.FPR95 = x
	case metrics.DetectionError:
		v.DetectionError = x
	case metrics.AUROC:
		v.AUROC = x
	case metrics.AUPRIn:
		v.AUPRIn = x
	case metrics.AUPROut:
		v.AUPROut = x
	}
}

// The baseline file's format name and version.
const (
	baselineFormat  = "mcdood-baseline"
	baselineVersion = 2
)

// NewBaseline gathers records — several seeds of each configuration, from
// one or several results directories (kernel paths, builds, machines) —
// into a baseline of their metrics in mode.
func NewBaseline(records []*Record, mode metrics.Mode) (*Baseline, error) {
	b := &Baseline{Format: baselineFormat, Version: baselineVersion, Mode: mode.String()}
	byGroup := map[string]*BaselineGroup{}
	type origin struct {
		key     string
		started int64
	}
	seen := map[origin]bool{}
	for _, r := range records {
		if r.Group == "" {
			return nil, fmt.Errorf("results: record %s has no seed group (written before mcdood kept them): run it again", r.Key)
		}
		o := origin{r.Key, r.Started.UnixNano()}
		if seen[o] {
			return nil, fmt.Errorf("results: record %s read twice (the same results directory given twice?)", r.Key)
		}
		seen[o] = true
		rep, err := r.Report(mode)
		if err != nil {
			return nil, err
		}
		g, ok := byGroup[r.Group]
		if !ok {
			g = &BaselineGroup{Group: r.Group, ID: r.ID, Network: r.Network, OOD: r.OOD, Method: r.Method, Setting: r.Setting}
			byGroup[r.Group] = g
		}
		g.Draws = append(g.Draws, Draw{Key: r.Key, Seed: r.Seed, Kernels: r.Kernels, BLAS: r.BLAS, Machine: r.Machine,
			Values: Values{Accuracy: r.Accuracy, Report: rep}})
	}
	if len(byGroup) == 0 {
		return nil, errors.New("results: no records for a baseline")
	}
	for _, g := range byGroup {
		slices.SortStableFunc(g.Draws, func(x, y Draw) int {
			return cmp.Or(cmp.Compare(x.Seed, y.Seed), strings.Compare(x.Kernels, y.Kernels), strings.Compare(x.BLAS, y.BLAS))
		})
		g.N = len(g.Draws)
		g.Mean, g.Std = spread(g.Draws)
		b.Groups = append(b.Groups, *g)
	}
	slices.SortFunc(b.Groups, func(x, y BaselineGroup) int { return strings.Compare(x.Group, y.Group) })
	return b, nil
}

// spread is the mean and sample standard deviation of the draws' numbers.
func spread(draws []Draw) (mean, std Values) {
	n := float64(len(draws))
	for _, m := range metrics.All {
		var s float64
		for _, d := range draws {
			s += d.Values.Get(m)
		}
		mu := s / n
		var q float64
		for _, d := range draws {
			q += (d.Values.Get(m) - mu) * (d.Values.Get(m) - mu)
		}
		mean.set(m, mu)
		if len(draws) > 1 {
			std.set(m, math.Sqrt(q/(n-1)))
		}
	}
	return mean, std
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
// format or version, duplicate groups, numbers outside [0, 1] and a mean or
// std that does not follow from the draws are errors naming the file.
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

// agreeSlack is how far a stored mean or std may be from the one computed
// from the draws (JSON keeps 17 significant digits; sums round).
const agreeSlack = 1e-9

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
		return nil, fmt.Errorf("format %q version %d, want %q version %d (write it again with mcdood compare --write-baseline)", b.Format, b.Version, baselineFormat, baselineVersion)
	}
	if _, err := metrics.ParseMode(b.Mode); err != nil {
		return nil, err
	}
	if len(b.Groups) == 0 {
		return nil, errors.New("no groups")
	}
	seen := map[string]bool{}
	for k, g := range b.Groups {
		switch {
		case g.Group == "":
			return nil, fmt.Errorf("group %d (0-based) has no name", k)
		case seen[g.Group]:
			return nil, fmt.Errorf("group %q listed twice", g.Group)
		case len(g.Draws) == 0 || g.N != len(g.Draws):
			return nil, fmt.Errorf("group %s: n = %d with %d draws", g.Group, g.N, len(g.Draws))
		}
		seen[g.Group] = true
		for _, d := range g.Draws {
			for _, m := range metrics.All {
				if v := d.Values.Get(m); !(v >= 0 && v <= 1) {
					return nil, fmt.Errorf("group %s, draw %s: %s = %v, want a fraction in [0, 1]", g.Group, d.Key, m, v)
				}
			}
		}
		mean, std := spread(g.Draws)
		for _, m := range metrics.All {
			if math.Abs(mean.Get(m)-g.Mean.Get(m)) > agreeSlack || math.Abs(std.Get(m)-g.Std.Get(m)) > agreeSlack {
				return nil, fmt.Errorf("group %s: %s mean %v and std %v do not follow from its draws (%v and %v)", g.Group, m,
					g.Mean.Get(m), g.Std.Get(m), mean.Get(m), std.Get(m))
			}
		}
	}
	return b, nil
}

// describe names the group for a reader.
func (g BaselineGroup) describe() string {
	return fmt.Sprintf("%s/%s/%s/%s/%s", g.ID, g.Network, g.OOD, g.Method, g.Setting)
}
