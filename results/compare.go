package results

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/mcdood/mcdood/metrics"
)

// Tolerances are the least change, in absolute fraction units (0.02 = two
// percentage points), that a comparison treats as more than noise: the
// floor under k standard deviations.
type Tolerances struct {
	Default   float64
	PerMetric map[metrics.Metric]float64 // overrides Default
}

// DefaultTolerance is the floor of "mcdood compare" unless told otherwise:
// two percentage points. It matters where the baseline's draws agree
// closely (a metric at 1.0 on noise images, or a single draw).
const DefaultTolerance = 0.02

// DefaultK is how many of the baseline's standard deviations a result may
// lie from its mean before it counts: see CompareOptions.
const DefaultK = 4

// For is the tolerance of metric m.
func (t Tolerances) For(m metrics.Metric) float64 {
	if v, ok := t.PerMetric[m]; ok {
		return v
	}
	return t.Default
}

// ParseTolerances reads per-metric tolerances "auroc=0.01,fpr95=0.05" (an
// empty list is none) on top of a default.
func ParseTolerances(def float64, list string) (Tolerances, error) {
	t := Tolerances{Default: def, PerMetric: map[metrics.Metric]float64{}}
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
		m, err := metrics.ParseMetric(strings.TrimSpace(name))
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
	Metric metrics.Metric
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
			for _, m := range metrics.All {
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
