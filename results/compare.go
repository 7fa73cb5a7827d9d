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
func (v Values) Get(m Metric) float64 {
	if m == Accuracy {
		return v.Accuracy
	}
	return m.fromReport(v.Report)
}

func (v *Values) set(m Metric, x float64) {
	switch m {
	case Accuracy:
		v.Accuracy = x
	case FPR95:
		v.FPR95 = x
	case DetectionError:
		v.DetectionError = x
	case AUROC:
		v.AUROC = x
	case AUPRIn:
		v.AUPRIn = x
	case AUPROut:
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
	for _, m := range AllMetrics {
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
			for _, m := range AllMetrics {
				if v := d.Values.Get(m); !(v >= 0 && v <= 1) {
					return nil, fmt.Errorf("group %s, draw %s: %s = %v, want a fraction in [0, 1]", g.Group, d.Key, m, v)
				}
			}
		}
		mean, std := spread(g.Draws)
		for _, m := range AllMetrics {
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

// Tolerances are the least change, in absolute fraction units (0.02 = two
// percentage points), that a comparison treats as more than noise: the
// floor under k standard deviations.
type Tolerances struct {
	Default   float64
	PerMetric map[Metric]float64 // overrides Default
}

// DefaultTolerance is the floor of "mcdood compare" unless told otherwise:
// two percentage points. It matters where the baseline's draws agree
// closely (a metric at 1.0 on noise images, or a single draw).
const DefaultTolerance = 0.02

// DefaultK is how many of the baseline's standard deviations a result may
// lie from its mean before it counts: see CompareOptions.
const DefaultK = 4

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

// CompareOptions say how far from a baseline's distribution a result may
// lie: a number is a regression when it is worse than the group's mean by
// more than max(K·std, floor), and an improvement when better by as much.
type CompareOptions struct {
	K     float64    // standard deviations; DefaultK when zero
	Floor Tolerances // the least margin, per metric
	// Partial says the records are a deliberate part of the baseline's
	// cells (say, one OOD set on a slow path): baseline groups without a
	// record are listed but pass, as long as some record was compared.
	Partial bool
}

// Change is one number that moved beyond its margin.
type Change struct {
	Key    string // the record's
	Cell   string // ID set/network/OOD set/method/setting
	Seed   uint64
	Metric Metric
	Mean   float64 // the baseline group's
	Std    float64
	N      int     // draws in the group
	Result float64 // the record's
	Worse  float64 // how much worse than the mean (negative: better)
	Margin float64 // max(K·std, floor)
}

// Comparison is the outcome of Compare.
type Comparison struct {
	Mode         metrics.Mode
	K            float64
	Compared     int      // records compared with a group
	Regressions  []Change // worse than the group's mean by more than the margin
	Improvements []Change // better by more than the margin
	Missing      []string // baseline groups with no record: an error unless Partial
	New          []string // record keys whose group is not in the baseline: fine
	Partial      bool     // CompareOptions.Partial
}

// OK reports whether the results pass: no regression, and nothing missing
// (or, for a partial comparison, at least one record compared).
func (c *Comparison) OK() bool {
	return len(c.Regressions) == 0 && (len(c.Missing) == 0 || c.Partial && c.Compared > 0)
}

// Err is nil when the results pass, else an error counting what failed.
func (c *Comparison) Err() error {
	if c.OK() {
		return nil
	}
	var parts []string
	if n := len(c.Regressions); n > 0 {
		parts = append(parts, plural(n, "regression", "regressions")+" beyond the baseline's spread")
	}
	switch n := len(c.Missing); {
	case c.Partial && c.Compared == 0:
		parts = append(parts, "no record of the baseline's groups in the results")
	case n > 0 && !c.Partial:
		parts = append(parts, plural(n, "baseline group", "baseline groups")+" missing from the results")
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
// the margin passes.
const regressionSlack = 1e-12

// Compare checks every record whose seed group is in the baseline against
// that group's distribution. A metric or the accuracy worse than the
// group's mean by more than max(K·std, floor) is a regression: for FPR95
// and the detection error higher is worse, for AUROC, AUPR-In, AUPR-Out and
// accuracy lower is worse. Better by more than the margin is an
// improvement, reported but passing. A baseline group without any record is
// missing (a failure, unless o.Partial); records of other groups are listed
// as new.
func Compare(b *Baseline, records []*Record, o CompareOptions) (*Comparison, error) {
	mode, err := metrics.ParseMode(b.Mode)
	if err != nil {
		return nil, fmt.Errorf("results: baseline: %w", err)
	}
	if o.K == 0 {
		o.K = DefaultK
	}
	if !(o.K > 0) {
		return nil, fmt.Errorf("results: compare: k = %v, want > 0", o.K)
	}
	c := &Comparison{Mode: mode, K: o.K, Partial: o.Partial}
	byGroup := map[string][]*Record{}
	for _, r := range records {
		byGroup[r.Group] = append(byGroup[r.Group], r)
	}
	inBaseline := map[string]bool{}
	for _, g := range b.Groups {
		inBaseline[g.Group] = true
		recs := byGroup[g.Group]
		if len(recs) == 0 {
			c.Missing = append(c.Missing, g.Group)
			continue
		}
		for _, r := range recs {
			c.Compared++
			for _, m := range AllMetrics {
				got, err := r.Value(m, mode)
				if err != nil {
					return nil, fmt.Errorf("results: compare: %w", err)
				}
				mean, std := g.Mean.Get(m), g.Std.Get(m)
				worse := got - mean
				if !m.LowerIsBetter() {
					worse = -worse
				}
				ch := Change{Key: r.Key, Cell: g.describe(), Seed: r.Seed, Metric: m, Mean: mean, Std: std, N: g.N,
					Result: got, Worse: worse, Margin: math.Max(o.K*std, o.Floor.For(m))}
				switch {
				case math.IsNaN(got) || worse > ch.Margin+regressionSlack:
					c.Regressions = append(c.Regressions, ch)
				case -worse > ch.Margin+regressionSlack:
					c.Improvements = append(c.Improvements, ch)
				}
			}
		}
	}
	for _, r := range records {
		if !inBaseline[r.Group] {
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
// line per regression, improvement, missing group and new record.
func (c *Comparison) WriteText(w io.Writer) error {
	var b strings.Builder
	verdict := "PASS"
	if !c.OK() {
		verdict = "FAIL"
	}
	missing := "missing"
	if c.Partial {
		missing = "not run"
	}
	fmt.Fprintf(&b, "%s: %d records compared (%s metrics, fractions; margin max(%g·std, floor)): %s, %s, %d %s, %d new\n",
		verdict, c.Compared, c.Mode, c.K, plural(len(c.Regressions), "regression", "regressions"),
		plural(len(c.Improvements), "improvement", "improvements"), len(c.Missing), missing, len(c.New))
	line := func(kind, verb string, ch Change, by float64) {
		fmt.Fprintf(&b, "%-12s %s/seed %d %s: %.4f, %s by %.4f than the baseline's %.4f ± %.4f (n %d; margin %.4f)  [%s]\n",
			kind, ch.Cell, ch.Seed, ch.Metric, ch.Result, verb, by, ch.Mean, ch.Std, ch.N, ch.Margin, ch.Key)
	}
	for _, ch := range c.Regressions {
		line("regression", "worse", ch, ch.Worse)
	}
	for _, ch := range c.Improvements {
		line("improvement", "better", ch, -ch.Worse)
	}
	for _, g := range c.Missing {
		if c.Partial {
			fmt.Fprintf(&b, "not run      %s: in the baseline, not in this partial run\n", g)
			continue
		}
		fmt.Fprintf(&b, "missing      %s: in the baseline, no record in the results\n", g)
	}
	for _, k := range c.New {
		fmt.Fprintf(&b, "new          %s: its group is not in the baseline\n", k)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
