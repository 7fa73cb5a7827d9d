package results

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/mcdood/mcdood/metrics"
)

// The hand-made records of the golden tables. Published numbers they sit
// beside (reference/paper-results.csv): CIFAR-10, DenseNet-BC-100,
// TinyImageNet (crop): msp 34.7/10.0/95.3/96.4/93.8 (Liang Table 2), odin
// 3.6/4.2/99.2/99.2/99.2 and mcd 0.1/0.7/99.9/100.0/99.9 (Yu & Aizawa Table 2).
var (
	paperLayout = []cell{
		{id: "cifar10", network: "densenet-bc-100", ood: "tinyimagenet-crop", method: "msp", seed: 1, accuracy: 0.9481,
			m: [5]float64{0.352, 0.1041, 0.9512, 0.9625, 0.9350}},
		{id: "cifar10", network: "densenet-bc-100", ood: "tinyimagenet-crop", method: "odin", seed: 1, accuracy: 0.9481,
			m: [5]float64{0.048, 0.0492, 0.9890, 0.9901, 0.9880}},
		{id: "cifar10", network: "densenet-bc-100", ood: "tinyimagenet-crop", method: "mcd", seed: 1, accuracy: 0.9481,
			m: [5]float64{0.0034, 0.0091, 0.9981, 0.9990, 0.9975}},
		// Gaussian noise: only the ODIN paper has numbers (msp, odin); none for mcd.
		{id: "cifar10", network: "densenet-bc-100", ood: "gaussian", method: "mcd", seed: 1, accuracy: 0.9481,
			m: [5]float64{0, 0.001, 1, 1, 1}},
		{id: "cifar10", network: "densenet-bc-100", ood: "gaussian", method: "msp", seed: 1, accuracy: 0.9481,
			m: [5]float64{0.1312, 0.0488, 0.9741, 0.9822, 0.9577}},
		{id: "cifar10", network: "densenet-bc-100", ood: "gaussian", method: "odin", seed: 1, accuracy: 0.9481,
			m: [5]float64{0.0004, 0.0025, 0.9998, 0.9999, 0.9997}},
	}
	// Two seeds, one cell (mcd on lsun-resize, seed 2) missing.
	twoSeeds = []cell{
		{id: "cifar100", network: "densenet-bc-100", ood: "lsun-resize", method: "msp", seed: 1, accuracy: 0.7710,
			m: [5]float64{0.80, 0.34, 0.72, 0.75, 0.68}},
		{id: "cifar100", network: "densenet-bc-100", ood: "lsun-resize", method: "msp", seed: 2, accuracy: 0.7690,
			m: [5]float64{0.84, 0.36, 0.70, 0.73, 0.66}},
		{id: "cifar100", network: "densenet-bc-100", ood: "lsun-resize", method: "mcd", seed: 1, accuracy: 0.7710,
			m: [5]float64{0.05, 0.03, 0.99, 0.99, 0.99}},
		{id: "cifar100", network: "densenet-bc-100", ood: "isun", method: "msp", seed: 1, accuracy: 0.7710,
			m: [5]float64{0.85, 0.36, 0.69, 0.72, 0.66}},
		{id: "cifar100", network: "densenet-bc-100", ood: "isun", method: "msp", seed: 2, accuracy: 0.7690,
			m: [5]float64{0.85, 0.37, 0.70, 0.72, 0.67}},
		{id: "cifar100", network: "densenet-bc-100", ood: "isun", method: "mcd", seed: 1, accuracy: 0.7710,
			m: [5]float64{0.02, 0.02, 0.995, 0.994, 0.996}},
		{id: "cifar100", network: "densenet-bc-100", ood: "isun", method: "mcd", seed: 2, accuracy: 0.7690,
			m: [5]float64{0.04, 0.03, 0.990, 0.991, 0.992}},
	}
	// Our CPU network, which the papers do not report.
	cpuNetwork = []cell{
		{id: "cifar10", network: "resnet9-16", ood: "tinyimagenet-resize", method: "msp", seed: 7, accuracy: 0.8125,
			m: [5]float64{0.61, 0.24, 0.84, 0.86, 0.81}},
		{id: "cifar10", network: "resnet9-16", ood: "tinyimagenet-resize", method: "mcd", seed: 7, accuracy: 0.8125,
			m: [5]float64{0.21, 0.11, 0.95, 0.95, 0.94}},
		{id: "cifar10", network: "resnet9-16", ood: "tinyimagenet-resize", method: "energy", seed: 7, accuracy: 0.8125,
			m: [5]float64{0.55, 0.22, 0.86, 0.88, 0.83}},
	}
)

// withCI gives every record an interval of ±1 percentage point (±0.01),
// clipped to [0, 1].
func withCI(recs []*Record) []*Record {
	for _, r := range recs {
		iv := func(v float64) metrics.Interval { return metrics.Interval{Low: max(v-0.01, 0), High: min(v+0.01, 1)} }
		r.CI = &metrics.Intervals{FPR95: iv(r.Metrics.FPR95), DetectionError: iv(r.Metrics.DetectionError),
			AUROC: iv(r.Metrics.AUROC), AUPRIn: iv(r.Metrics.AUPRIn), AUPROut: iv(r.Metrics.AUPROut)}
	}
	return recs
}

func TestTableGolden(t *testing.T) {
	cases := []struct {
		name    string
		records []*Record
		opts    TableOptions
	}{
		{"paper-layout", records(paperLayout...), TableOptions{}},
		{"two-seeds-ci", withCI(records(twoSeeds...)), TableOptions{CI: true}},
		{"reference-network", records(cpuNetwork...), TableOptions{ReferenceNetwork: "densenet-bc-100"}},
		{"no-reference", records(cpuNetwork...), TableOptions{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tab, err := BuildTable(c.records, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []struct {
				format Format
				ext    string
			}{{Text, "txt"}, {Markdown, "md"}, {CSV, "csv"}} {
				var b bytes.Buffer
				if err := tab.Write(&b, f.format); err != nil {
					t.Fatal(err)
				}
				golden(t, c.name+"."+f.ext+".golden", b.Bytes())
			}
		})
	}
}

func TestBuildTableErrors(t *testing.T) {
	dup := records(paperLayout[0], paperLayout[0])
	dup[1].Key = "stale"
	if _, err := BuildTable(dup, TableOptions{}); err == nil ||
		!strings.Contains(err.Error(), "records "+dup[0].Key+" and stale are both cifar10/densenet-bc-100/tinyimagenet-crop/msp/transductive/seed 1") {
		t.Errorf("duplicate cell: %v", err)
	}
	if _, err := BuildTable(records(paperLayout[0]), TableOptions{Mode: metrics.Paper}); err == nil ||
		!strings.Contains(err.Error(), "no paper-mode metrics") {
		t.Errorf("paper mode without paper metrics: %v", err)
	}
	bad := records(paperLayout[0])
	bad[0].OOD = ""
	if _, err := BuildTable(bad, TableOptions{}); err == nil || !strings.Contains(err.Error(), "empty ood") {
		t.Errorf("record without OOD set: %v", err)
	}
}

// TestBuildTableChoices: the options choose the numbers, the order and the
// published numbers beside ours.
func TestBuildTableChoices(t *testing.T) {
	recs := records(paperLayout...)
	for _, r := range recs {
		p := r.Metrics
		p.AUROC = 0.5 // paper mode: a different AUROC
		r.Paper = &p
	}
	recs[1].Method = "odin-t1000" // an alias of the odin detector
	tab, err := BuildTable(recs, TableOptions{Mode: metrics.Paper, Methods: []string{"mcd"}, OODs: []string{"gaussian"},
		Prefer: []Source{Liang2018Table2}})
	if err != nil {
		t.Fatal(err)
	}
	g := tab.Groups[0]
	if got := strings.Join(g.Methods, ","); got != "mcd,msp,odin,odin-t1000" {
		t.Errorf("methods %s, want mcd first, then the default order, then aliases alphabetically", got)
	}
	if g.Rows[0].OOD != "gaussian" || g.Rows[1].OOD != "tinyimagenet-crop" {
		t.Errorf("rows %s, %s; want gaussian first", g.Rows[0].OOD, g.Rows[1].OOD)
	}
	tin := g.Rows[1]
	if c := tin.Cells[0]; c.Ours[2].Mean != 50 {
		t.Errorf("paper-mode AUROC %v, want 50", c.Ours[2].Mean)
	}
	// The alias gets its detector's published row, from the preferred source.
	if c := tin.Cells[3]; c == nil || c.Paper == nil || c.Paper.Source != Liang2018Table2 || c.Paper.Method != "odin" {
		t.Errorf("alias cell %+v", c)
	}
	if c := tin.Cells[0]; c.Paper != nil {
		t.Errorf("mcd has no Liang et al. row, got %+v", c.Paper)
	}
	if !slices.Equal(g.Sources, []Source{Liang2018Table2}) {
		t.Errorf("sources %v", g.Sources)
	}
}

// The rows follow the published tables: the OOD sets of each (source,
// network, ID set) of the reference numbers come in DefaultOODOrder
// (Liang et al., ICLR 2018, Table 2, ends with Uniform, then Gaussian).
func TestOODOrderIsThePapers(t *testing.T) {
	type table struct{ source, network, id string }
	seen := map[table][]string{}
	for _, r := range PaperRows() {
		k := table{string(r.Source), r.Network, r.ID}
		if s := seen[k]; len(s) == 0 || s[len(s)-1] != r.OOD {
			seen[k] = append(s, r.OOD)
		}
	}
	for k, oods := range seen {
		if !slices.IsSortedFunc(oods, func(a, b string) int { return compareIn(DefaultOODOrder, a, b) }) {
			t.Errorf("%v lists %v, not in DefaultOODOrder %v", k, oods, DefaultOODOrder)
		}
	}
}

// TestTableMetricColumns: Metrics picks and orders the text and Markdown
// tables' metric columns; CSV keeps every one; a metric that is not a
// detection metric is refused.
func TestTableMetricColumns(t *testing.T) {
	recs := records(paperLayout...)
	tab, err := BuildTable(recs, TableOptions{Metrics: []metrics.Metric{metrics.AUROC, metrics.FPR95}})
	if err != nil {
		t.Fatal(err)
	}
	var md, csv strings.Builder
	if err := tab.Write(&md, Markdown); err != nil {
		t.Fatal(err)
	}
	text := md.String()
	a, f := strings.Index(text, metrics.AUROC.Label()), strings.Index(text, metrics.FPR95.Label())
	if a < 0 || f < 0 || a > f || strings.Contains(text, metrics.AUPRIn.Label()) || strings.Contains(text, metrics.DetectionError.Label()) {
		t.Errorf("columns of a table of AUROC and FPR@95:\n%s", text)
	}
	if err := tab.Write(&csv, CSV); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csv.String(), "aupr_in") {
		t.Errorf("CSV lost a metric:\n%s", csv.String())
	}
	if _, err := BuildTable(recs, TableOptions{Metrics: []metrics.Metric{metrics.Accuracy}}); err == nil {
		t.Error("accuracy accepted as a detection column")
	}
}
