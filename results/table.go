package results

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/mcdood/mcdood/loaders"
	"github.com/mcdood/mcdood/metrics"
	"github.com/mcdood/mcdood/ood/setting"
)

// TableOptions choose what a table shows. The zero value is the default:
// exact-mode metrics, no intervals, published numbers only for networks the
// papers report, DefaultPreference, the default row and column orders.
type TableOptions struct {
	// Mode selects the records' numbers: metrics.Exact (Record.Metrics),
	// metrics.Paper (Record.Paper, the MCD authors' test.py, the like-for-like
	// comparison with the published numbers), or metrics.ExactOODPositive
	// (Exact with OpenOOD's OOD-positive FPR@95, beside which no published
	// FPR@95 is shown: those are ID-positive).
	Mode metrics.Mode
	// CI adds a row of bootstrap intervals (Record.CI) under each OOD set.
	CI bool
	// ReferenceNetwork, when set, puts that network's published numbers
	// beside a network the papers do not report (our CPU-sized networks);
	// the title then says that the comparison network differs.
	ReferenceNetwork string
	// Prefer is the order of the sources of published numbers
	// (DefaultPreference when empty).
	Prefer []Source
	// Methods and OODs order the columns and rows; names not listed follow
	// in DefaultMethodOrder or DefaultOODOrder, then alphabetically.
	Methods []string
	OODs    []string
	// Metrics are the metric columns of the text and Markdown tables, in
	// this order (all of metrics.Detection when empty); CSV has every one.
	Metrics []metrics.Metric
}

// shownMetrics are the metric columns of the text and Markdown tables.
func (o TableOptions) shownMetrics() []metrics.Metric {
	if len(o.Metrics) == 0 {
		return metrics.Detection
	}
	return o.Metrics
}

// DefaultMethodOrder is the column order of methods: the baseline, ODIN,
// ELOC and MCD as in the papers' tables, then the other baselines.
var DefaultMethodOrder = []string{"msp", "odin", "eloc", "mcd", "energy", "mahalanobis"}

// DefaultOODOrder is the row order of OOD sets: the catalog's
// (loaders.Names), which is the papers' (Liang et al., ICLR 2018, Table 2;
// Yu & Aizawa, ICCV 2019, Table 2) with each clean FIX twin right after its
// set and the CIFAR-10 control last.
var DefaultOODOrder = loaders.Names()

// Group orders: the papers' ID sets and networks first, the paper's setting
// first (setting.All).
var (
	idOrder      = loaders.IDNames()
	networkOrder = []string{"densenet-bc-100", "wrn-28-10"}
	settingOrder = settingNames()
)

func settingNames() []string {
	out := make([]string, len(setting.All))
	for k, s := range setting.All {
		out[k] = string(s)
	}
	return out
}

// Table is records projected into the paper's layout (Yu & Aizawa, ICCV
// 2019, Table 2): one Group per (ID set, network, setting), rows the OOD
// sets, columns the five metrics × the methods, the published numbers
// beside ours.
type Table struct {
	Options TableOptions
	Groups  []*Group
}

// Group is one table: one ID set, network and setting.
type Group struct {
	ID, Network, Setting string
	// PaperNetwork is the network whose published numbers are shown: the
	// group's network, TableOptions.ReferenceNetwork when the papers do not
	// report the group's network, or "" when there are none.
	PaperNetwork string
	Seeds        []uint64 // every seed of the group, ascending
	Accuracy     Summary  // ID test accuracy in percent, over seeds
	Methods      []string // column order
	Rows         []*Row
	Sources      []Source // the sources of the published numbers shown, in footnote order
}

// Row is one OOD set of a group.
type Row struct {
	OOD   string
	Cells []*Cell // one per Group.Methods entry; nil where there is no record
}

// Cell is one method on one OOD set: its records (one per seed) summarised.
type Cell struct {
	Method  string
	Records []*Record // ascending seed
	// Ours is each detection metric in percent (metrics.Detection order):
	// the mean and the standard deviation over seeds.
	Ours [5]Summary
	// CI is each metric's bootstrap interval in percent when every record
	// has one; with several seeds, from the lowest lower bound to the
	// highest upper bound.
	CI    *[5]metrics.Interval
	Paper *PaperRow // the published numbers, when a source has them
}

// Summary is a mean over N values and their sample standard deviation (0
// when N is 1).
type Summary struct {
	Mean, Std float64
	N         int
}

func summarize(v []float64) Summary {
	s := Summary{N: len(v)}
	for _, x := range v {
		s.Mean += x
	}
	s.Mean /= float64(len(v))
	if len(v) > 1 {
		var ss float64
		for _, x := range v {
			ss += (x - s.Mean) * (x - s.Mean)
		}
		s.Std = math.Sqrt(ss / float64(len(v)-1))
	}
	return s
}

// BuildTable projects records into the paper's layout. Two records of the
// same (ID set, network, OOD set, method, setting, seed) are an error naming
// both keys (a stale record of an older configuration, or a plan run twice
// under different keys), and so is a record without the numbers Mode asks
// for.
func BuildTable(records []*Record, opts TableOptions) (*Table, error) {
	if len(opts.Prefer) == 0 {
		opts.Prefer = DefaultPreference
	}
	for _, m := range opts.Metrics {
		if !slices.Contains(metrics.Detection, m) {
			return nil, fmt.Errorf("results: %q is not a detection metric of the tables", m)
		}
	}
	switch opts.Mode {
	case metrics.Exact, metrics.Paper:
	case metrics.ExactOODPositive:
		if opts.CI {
			return nil, fmt.Errorf("results: the bootstrap intervals are ID-positive; a table with the OOD-positive FPR@95 cannot show them")
		}
	default:
		return nil, fmt.Errorf("results: unknown metrics mode %v", opts.Mode)
	}
	type cellID struct{ id, network, setting, ood, method string }
	type groupID struct{ id, network, setting string }
	byCell := map[cellID][]*Record{}
	bySeed := map[string]*Record{}
	groups := map[groupID]*Group{}
	for _, r := range records {
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("results: record %s: %w", r.Key, err)
		}
		if _, err := r.Report(opts.Mode); err != nil {
			return nil, fmt.Errorf("results: table in %s mode: %w", opts.Mode, err)
		}
		seedID := fmt.Sprintf("%s/%s/%s/%s/%s/seed %d", r.ID, r.Network, r.OOD, r.Method, r.Setting, r.Seed)
		if prev, dup := bySeed[seedID]; dup {
			return nil, fmt.Errorf("results: records %s and %s are both %s (remove the stale one, or choose records of one plan)",
				prev.Key, r.Key, seedID)
		}
		bySeed[seedID] = r
		c := cellID{r.ID, r.Network, r.Setting, r.OOD, r.Method}
		byCell[c] = append(byCell[c], r)
		g := groupID{r.ID, r.Network, r.Setting}
		if groups[g] == nil {
			groups[g] = &Group{ID: r.ID, Network: r.Network, Setting: r.Setting}
		}
	}
	t := &Table{Options: opts}
	for _, g := range groups {
		t.Groups = append(t.Groups, g)
	}
	slices.SortFunc(t.Groups, func(a, b *Group) int {
		return cmp.Or(
			compareIn(idOrder, a.ID, b.ID),
			compareIn(networkOrder, a.Network, b.Network),
			compareIn(settingOrder, a.Setting, b.Setting))
	})
	for _, g := range t.Groups {
		g.PaperNetwork = g.Network
		if !HasReferenceNetwork(g.Network) {
			g.PaperNetwork = opts.ReferenceNetwork
		}
		var oods []string
		for c := range byCell {
			if c.id == g.ID && c.network == g.Network && c.setting == g.Setting {
				oods = appendNew(oods, c.ood)
				g.Methods = appendNew(g.Methods, c.method)
			}
		}
		slices.SortFunc(oods, func(a, b string) int { return compareIn(append(slices.Clone(opts.OODs), DefaultOODOrder...), a, b) })
		slices.SortFunc(g.Methods, func(a, b string) int {
			return compareIn(append(slices.Clone(opts.Methods), DefaultMethodOrder...), a, b)
		})
		accuracy := map[uint64][]float64{}
		for _, ood := range oods {
			row := &Row{OOD: ood, Cells: make([]*Cell, len(g.Methods))}
			for k, m := range g.Methods {
				recs := byCell[cellID{g.ID, g.Network, g.Setting, ood, m}]
				if len(recs) == 0 {
					continue
				}
				slices.SortFunc(recs, func(a, b *Record) int { return cmp.Compare(a.Seed, b.Seed) })
				for _, r := range recs {
					g.Seeds = appendNew(g.Seeds, r.Seed)
					accuracy[r.Seed] = append(accuracy[r.Seed], 100*r.Accuracy)
				}
				row.Cells[k] = newCell(g, m, recs, opts)
			}
			g.Rows = append(g.Rows, row)
		}
		slices.Sort(g.Seeds)
		perSeed := make([]float64, len(g.Seeds))
		for k, s := range g.Seeds {
			perSeed[k] = summarize(accuracy[s]).Mean
		}
		g.Accuracy = summarize(perSeed)
		g.Sources = usedSources(g, opts.Prefer)
	}
	return t, nil
}

// newCell summarises the records of one method on one OOD set.
func newCell(g *Group, method string, recs []*Record, opts TableOptions) *Cell {
	c := &Cell{Method: method, Records: recs}
	for k, m := range metrics.Detection {
		v := make([]float64, len(recs))
		for i, r := range recs {
			rep, _ := r.Report(opts.Mode) // checked by BuildTable
			x, _ := rep.Get(m)
			v[i] = 100 * x
		}
		c.Ours[k] = summarize(v)
	}
	if opts.CI && !slices.ContainsFunc(recs, func(r *Record) bool { return r.CI == nil }) {
		var iv [5]metrics.Interval
		for k, m := range metrics.Detection {
			iv[k] = metrics.Interval{Low: math.Inf(1), High: math.Inf(-1)}
			for _, r := range recs {
				x, _ := r.CI.Get(m)
				iv[k].Low, iv[k].High = min(iv[k].Low, 100*x.Low), max(iv[k].High, 100*x.High)
			}
		}
		c.CI = &iv
	}
	if g.PaperNetwork != "" {
		r := recs[0]
		p, ok := Reference(g.PaperNetwork, g.ID, recs[0].OOD, method, opts.Prefer...)
		if !ok && r.Detector != "" && r.Detector != method {
			// A method that aliases a detector ("odin-t1000") is shown beside
			// the detector's published numbers.
			p, ok = Reference(g.PaperNetwork, g.ID, r.OOD, r.Detector, opts.Prefer...)
		}
		if ok {
			if opts.Mode == metrics.ExactOODPositive {
				p.given[0] = false // published FPR@95s are ID-positive
			}
			c.Paper = &p
		}
	}
	return c
}

// usedSources lists the sources of the group's published numbers in the
// order of preference.
func usedSources(g *Group, prefer []Source) []Source {
	var out []Source
	for _, s := range prefer {
		for _, row := range g.Rows {
			for _, c := range row.Cells {
				if c != nil && c.Paper != nil && c.Paper.Source == s {
					out = appendNew(out, s)
				}
			}
		}
	}
	return out
}

// footnote is the 1-based number of source s among the group's sources.
func (g *Group) footnote(s Source) int { return slices.Index(g.Sources, s) + 1 }

// hasPaper reports whether any cell of the row has published numbers.
func (r *Row) hasPaper() bool {
	return slices.ContainsFunc(r.Cells, func(c *Cell) bool { return c != nil && c.Paper != nil })
}

// hasCI reports whether any cell of the row has intervals.
func (r *Row) hasCI() bool {
	return slices.ContainsFunc(r.Cells, func(c *Cell) bool { return c != nil && c.CI != nil })
}

// incomplete lists the cells with fewer seeds than the group, as
// "method on ood (n of N seeds)".
func (g *Group) incomplete() []string {
	var out []string
	for _, row := range g.Rows {
		for k, c := range row.Cells {
			n := 0
			if c != nil {
				n = len(c.Records)
			}
			if n < len(g.Seeds) {
				out = append(out, fmt.Sprintf("%s on %s (%d of %d seeds)", g.Methods[k], row.OOD, n, len(g.Seeds)))
			}
		}
	}
	return out
}

// compareIn orders a and b by their position in known, names not in known
// after those in it, alphabetically.
func compareIn(known []string, a, b string) int {
	ia, ib := slices.Index(known, a), slices.Index(known, b)
	switch {
	case ia >= 0 && ib >= 0:
		return cmp.Compare(ia, ib)
	case ia >= 0:
		return -1
	case ib >= 0:
		return 1
	}
	return strings.Compare(a, b)
}

func appendNew[T comparable](s []T, v T) []T {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}
